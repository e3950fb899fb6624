"""Unit of work: one transaction per use case. Services open it; handlers never touch SQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session, sessionmaker

from shared.db.engine import get_engine

_factory = sessionmaker(expire_on_commit=False)


@contextmanager
def session() -> Iterator[Session]:
    """Commit if the block succeeds, roll back if it raises; the connection returns to the pool either way."""
    with _factory(bind=get_engine()) as s, s.begin():
        yield s


@contextmanager
def unit_of_work(s: Session | None) -> Iterator[Session]:
    """Join the caller's transaction when given (the caller commits), else open and commit one here.

    Services take an optional `s` so a larger use case (creating a job and reserving its credits) is one unit.
    """
    if s is not None:
        yield s
    else:
        with session() as own:
            yield own
