"""The memoized pg8000 paramstyle conversion gives exactly what pg8000's own does."""

from __future__ import annotations

import pg8000.legacy
import pytest

from shared.db.engine import _memoize_pg8000_paramstyle

QUERIES = [
    "SELECT * FROM jobs WHERE id = %s AND status IN (%s, %s)",
    "INSERT INTO t (a, b) VALUES (%s, %s) RETURNING t.id",
    "SELECT '%s' AS literal, \"odd%%name\", %s -- a %s comment\n FROM x",
    "SELECT E'it''s %s', $$ %s $$, %s",
    "UPDATE t SET data = %s::jsonb WHERE id = %s",
]


@pytest.mark.parametrize("query", QUERIES)
def test_memoized_conversion_matches_pg8000(query: str) -> None:
    _memoize_pg8000_paramstyle()
    patched = pg8000.legacy.convert_paramstyle
    original = patched.original  # type: ignore[attr-defined]
    args = tuple(range(query.count("%s")))

    assert patched("format", query, args) == original("format", query, args)
    assert patched("format", query, args) == original("format", query, args)  # from the cache


def test_named_styles_are_not_memoized() -> None:
    _memoize_pg8000_paramstyle()
    patched = pg8000.legacy.convert_paramstyle

    assert patched("named", "SELECT :a, :b, :a", {"a": 1, "b": 2}) == ("SELECT $1, $2, $1", (1, 2))
