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
def single_statement() -> Iterator[Session]:
    """A session for ONE statement that is atomic by itself: sent without BEGIN and COMMIT, so a prepared
    statement costs one round trip in all (Postgres runs it in its own implicit transaction).

    Two statements in it would commit separately: use `session()` whenever a unit of work has more than one.
    pg8000's `autocommit` is a client-side flag (it only decides whether BEGIN is sent), so setting and
    clearing it costs nothing; the connection goes back to the pool with it cleared.
    """
    with get_engine().connect() as conn:
        dbapi_connection = conn.connection.dbapi_connection
        dbapi_connection.autocommit = True  # type: ignore[union-attr]
        try:
            with _factory(bind=conn) as s, s.begin():
                yield s
        finally:
            dbapi_connection.autocommit = False  # type: ignore[union-attr]


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
