"""What the benchmarks share: an embedded Postgres of their own, started fresh and stopped afterwards."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@contextmanager
def embedded_postgres(prefix: str) -> Iterator[tuple[Any, str]]:
    """A throwaway server in a temp dir (never the developer's `.local/`); yields (server, SQLAlchemy URL)."""
    from local.postgres import EmbeddedPostgres

    pg = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix=prefix)))
    url = pg.start()
    try:
        yield pg, url
    finally:
        pg.stop()
