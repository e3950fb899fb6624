"""Named prepared statements (shared/db/prepared.py): same results as pg8000's unnamed path, one round trip each."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pg8000.core
import pytest
from sqlalchemy import Connection, DateTime, Numeric, create_engine, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

from shared.db import get_engine, prepared, session
from shared.db.prepared import StatementCache, statement_cache

PREPARED = {"prepared": True}


class _Base(DeclarativeBase):
    """Not the application's metadata: the `db` fixture must not know this table."""


class Probe(_Base):
    __tablename__ = "prepared_probe"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    n: Mapped[int]
    label: Mapped[str | None]
    at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    doc: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))


probe = Probe.__table__

ROWS = [
    {
        "id": uuid.UUID(int=i + 1),
        "n": i,
        "label": None if i % 2 else f"row {i}",
        "at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC) if i != 3 else None,
        "doc": {"i": i, "nested": [1, "two", None]} if i != 2 else None,
        "amount": Decimal("12.3400") * i if i != 1 else None,
    }
    for i in range(6)
]
INSERT = text(
    "INSERT INTO prepared_probe (id, n, label, at, doc, amount) "
    "VALUES (:id, :n, :label, :at, CAST(:doc AS jsonb), :amount) RETURNING *"
)


@pytest.fixture
def table(db: URL) -> Iterator[None]:
    with get_engine().begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE prepared_probe (id uuid PRIMARY KEY, n int NOT NULL, label text, at timestamptz, "
                "doc jsonb, amount numeric(12, 4))"
            )
        )
    yield
    with get_engine().begin() as conn:
        conn.execute(text("DROP TABLE prepared_probe"))


@pytest.fixture
def flushes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many times pg8000 flushed its socket since the last call: one per round trip."""
    calls = 0
    original = pg8000.core._flush

    def counting(sock: Any) -> None:
        nonlocal calls
        calls += 1
        original(sock)

    monkeypatch.setattr(pg8000.core, "_flush", counting)

    def since_last() -> int:
        nonlocal calls
        n, calls = calls, 0
        return n

    return since_last


def _params(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "doc": None if row["doc"] is None else json.dumps(row["doc"])}


def _cache(conn: Connection) -> StatementCache:
    return statement_cache(conn.connection.dbapi_connection)


def _server_statements(conn: Connection) -> list[str]:
    return list(conn.execute(text("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time")).scalars())


def _typed(outcomes: list[Any]) -> list[list[list[tuple[type, Any]]]]:
    """Each returned value with its Python type: 1 == Decimal("1") == True must not pass for the same."""
    return [[[(type(v), v) for v in row] for row in rows] for _, _, rows in outcomes if rows is not None]


def test_results_are_identical_to_the_unprepared_path(table: None) -> None:
    """Rows, types (UUID, timestamptz, jsonb, numeric, NULL), row counts, RETURNING and column names agree."""
    statements = [
        (INSERT, [_params(r) for r in ROWS]),
        (text("SELECT * FROM prepared_probe WHERE n >= :low ORDER BY n"), [{"low": 0}, {"low": 4}, {"low": 99}]),
        (text("SELECT id, doc -> 'nested' AS nested, amount * 2 AS twice FROM prepared_probe ORDER BY n"), [{}]),
        (text("UPDATE prepared_probe SET label = :label WHERE n > :n RETURNING id, label"), [{"label": "u", "n": 2}]),
        (text("UPDATE prepared_probe SET amount = amount + 1 WHERE n < :n"), [{"n": 3}]),
        (text("DELETE FROM prepared_probe WHERE label IS NULL AND n = :n"), [{"n": 1}, {"n": 1}]),
        (select(probe.c.id, probe.c.doc).where(probe.c.n.in_([1, 2, 5])).order_by(probe.c.n), [{}]),
    ]
    outcomes: dict[bool, list[Any]] = {}
    with get_engine().connect() as conn:
        for use_prepared in (False, True, True):  # unprepared; prepared (first use); prepared (from the cache)
            seen = []
            trans = conn.begin()
            for statement, param_sets in statements:
                for params in param_sets:
                    result = conn.execute(statement.execution_options(prepared=use_prepared), params)
                    rows = sorted(result.all(), key=repr) if result.returns_rows else None  # UPDATE has no order
                    seen.append((list(result.keys()) if result.returns_rows else None, result.rowcount, rows))
            trans.rollback()
            if use_prepared in outcomes:
                assert seen == outcomes[use_prepared]
            outcomes[use_prepared] = seen
        assert len(_cache(conn)) == len(statements)  # the marked ones really ran prepared
        assert len(_server_statements(conn)) == len(statements)

    unprepared, prepared_ = outcomes[False], outcomes[True]
    assert [(k, c) for k, c, _ in prepared_] == [(k, c) for k, c, _ in unprepared]
    assert _typed(prepared_) == _typed(unprepared)
    inserted = unprepared[0][2][0]
    assert inserted.at.tzinfo is not None
    assert isinstance(inserted.id, uuid.UUID)
    assert isinstance(inserted.amount, Decimal)
    assert inserted.doc == {"i": 0, "nested": [1, "two", None]}


def test_the_option_reaches_the_driver_from_core_orm_and_session_calls(table: None) -> None:
    with session() as s:
        s.execute(INSERT.execution_options(prepared=True), _params(ROWS[0]))
        assert s.execute(select(Probe.n).where(Probe.id == ROWS[0]["id"]), execution_options=PREPARED).scalar() == 0
        # SQLAlchemy reads the options of the statement executed, not those of the one inside from_statement().
        inner = text("SELECT * FROM prepared_probe").execution_options(**PREPARED)
        assert s.scalars(select(Probe).from_statement(inner)).one().doc == ROWS[0]["doc"]
        assert len(_server_statements(s.connection())) == 2
        orm = select(Probe).from_statement(text("SELECT * FROM prepared_probe")).execution_options(**PREPARED)
        assert s.scalars(orm).one().doc == ROWS[0]["doc"]
        assert s.get(Probe, ROWS[0]["id"]) is not None  # not marked
        statements = _server_statements(s.connection())
    assert len(statements) == 3
    assert statements[0].startswith("INSERT INTO prepared_probe (id, n, label, at, doc, amount) VALUES ($1, ")
    assert statements[1].startswith("SELECT prepared_probe.n \nFROM prepared_probe \nWHERE prepared_probe.id = $1")
    assert statements[2] == "SELECT * FROM prepared_probe"


def test_one_round_trip_per_execution_after_the_first(table: None, flushes: Callable[[], int]) -> None:
    claim = text("UPDATE prepared_probe SET n = n + 1 WHERE n >= :n RETURNING id, n").execution_options(**PREPARED)
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
        conn.commit()
        flushes()
        conn.execute(INSERT.execution_options(prepared=False), _params(ROWS[0]))
        assert flushes() == 4  # pg8000 today: begin transaction, Parse/Sync, Describe/Sync, Bind/Execute/Sync
        conn.execute(INSERT.execution_options(prepared=False), _params(ROWS[1]))
        assert flushes() == 3
        conn.execute(INSERT.execution_options(**PREPARED), _params(ROWS[2]))
        assert flushes() == 2  # prepare, then Bind/Execute/Sync
        for row in ROWS[3:]:
            conn.execute(INSERT.execution_options(**PREPARED), _params(row))
            assert flushes() == 1
        conn.commit()
        flushes()
        for i in range(3):
            # First in its transaction: BEGIN is pipelined with the statement, and the transaction is really open.
            assert len(conn.execute(claim, {"n": 0}).all()) == len(ROWS)
            assert flushes() == (2 if i == 0 else 1)
            assert conn.connection.dbapi_connection._in_transaction
            conn.commit()
            flushes()
        assert _cache(conn).prepares == 2
        # After the first use of each, exactly one round trip.
        assert len(conn.execute(claim, {"n": 0}).all()) == len(ROWS)
        assert flushes() == 1
        assert conn.execute(claim, {"n": 99}).all() == []
        assert flushes() == 1
        conn.rollback()


def test_a_transaction_commits_and_rolls_back_as_before(table: None, db: URL) -> None:
    other = create_engine(db, poolclass=NullPool)

    def committed() -> int:
        with other.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM prepared_probe")).scalar_one()

    insert = INSERT.execution_options(**PREPARED)
    with get_engine().connect() as conn:
        conn.execute(insert, _params(ROWS[0]))  # the first statement: the BEGIN went with it
        assert committed() == 0
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM prepared_probe")).scalar_one() == 0
        conn.commit()

        conn.execute(insert, _params(ROWS[1]))  # cached now: BEGIN and Bind/Execute in one flush
        assert committed() == 0
        conn.commit()
        assert committed() == 1

        with pytest.raises(IntegrityError, match="23505"):
            conn.execute(insert, _params(ROWS[1]))
        with pytest.raises(DBAPIError, match="25P02"):  # aborted, exactly as an unprepared statement leaves it
            conn.execute(insert, _params(ROWS[2]))
        conn.rollback()
        conn.execute(insert, _params(ROWS[2]))  # prepared statements outlive the rollback
        conn.commit()
        assert _cache(conn).prepares == 1
    assert committed() == 2

    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(insert, _params(ROWS[3]))
        assert committed() == 3  # no transaction was opened
        assert not conn.connection.dbapi_connection._in_transaction
    other.dispose()


def test_a_killed_connection_recovers_with_an_empty_cache(table: None, db: URL) -> None:
    select_one = text("SELECT n FROM prepared_probe WHERE id = :id").execution_options(**PREPARED)
    with get_engine().begin() as conn:
        conn.execute(INSERT, _params(ROWS[4]))
    with get_engine().connect() as conn:
        assert conn.execute(select_one, {"id": ROWS[4]["id"]}).scalar_one() == 4
        conn.commit()
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        dead = conn.connection.dbapi_connection
        conn.commit()
        killer = create_engine(db, poolclass=NullPool)
        with killer.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        killer.dispose()
        with pytest.raises(DBAPIError) as failure:
            conn.execute(select_one, {"id": ROWS[4]["id"]})
        assert failure.value.connection_invalidated  # seen as a disconnect: the pool drops the connection
    with get_engine().connect() as conn:
        assert conn.connection.dbapi_connection is not dead
        assert len(_cache(conn)) == 0
        assert conn.execute(select_one, {"id": ROWS[4]["id"]}).scalar_one() == 4
        assert _cache(conn).prepares == 1
        conn.commit()


def test_ddl_that_changes_the_result_type_fails_once_then_works(table: None) -> None:
    star = text("SELECT * FROM prepared_probe WHERE n = :n").execution_options(**PREPARED)
    with get_engine().begin() as conn:
        conn.execute(INSERT, _params(ROWS[5]))
    with get_engine().connect() as conn:
        assert len(conn.execute(star, {"n": 5}).one()) == 6
        conn.commit()
        conn.execute(text("ALTER TABLE prepared_probe ADD COLUMN extra int DEFAULT 7"))
        conn.commit()
        with pytest.raises(ProgrammingError, match="cached plan must not change result type"):
            conn.execute(star, {"n": 5})
        conn.rollback()
        row = conn.execute(star, {"n": 5}).one()
        assert len(row) == 7
        assert row.extra == 7
        assert _cache(conn).prepares == 2
        assert _server_statements(conn) == ["SELECT * FROM prepared_probe WHERE n = $1"]  # the old one was closed

        conn.execute(text("DEALLOCATE ALL"))  # 26000: the server forgot them all
        with pytest.raises(ProgrammingError, match="26000"):
            conn.execute(star, {"n": 5})
        conn.rollback()
        assert conn.execute(star, {"n": 5}).one().extra == 7
        assert _cache(conn).prepares == 3
        conn.commit()


def test_the_cache_is_bounded_and_closes_what_it_evicts(table: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepared, "CACHE_SIZE", 3)
    get_engine().dispose()  # a new connection gets a cache of the new size
    statements = [text(f"SELECT n + {i} FROM prepared_probe WHERE n = :n") for i in range(5)]
    statements = [statement.execution_options(**PREPARED) for statement in statements]
    with get_engine().connect() as conn:
        for statement in statements[:3]:
            conn.execute(statement, {"n": 0})
        conn.execute(statements[0], {"n": 0})  # most recently used now: statement 1 is the oldest
        conn.execute(statements[3], {"n": 0})
        conn.execute(statements[4], {"n": 0})
        assert len(_cache(conn)) == 3
        assert [s.split(" + ")[1][0] for s in _server_statements(conn)] == ["0", "3", "4"]
        conn.execute(statements[1], {"n": 0})
        assert _cache(conn).prepares == 6
        conn.rollback()


def test_executemany_runs_each_set_as_one_round_trip(table: None, flushes: Callable[[], int]) -> None:
    with get_engine().begin() as conn:
        conn.execute(INSERT, [_params(r) for r in ROWS[:2]])
    bump = text("UPDATE prepared_probe SET n = n + 10 WHERE id = :id")
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
        flushes()
        result = conn.execute(bump.execution_options(**PREPARED), [{"id": r["id"]} for r in ROWS[:3]])
        assert result.rowcount == 2  # the third id does not exist
        assert flushes() == 4  # one prepare, then one round trip per set
        result = conn.execute(bump.execution_options(**PREPARED), [{"id": r["id"]} for r in ROWS[:3]])
        assert result.rowcount == 2
        assert flushes() == 3
        assert conn.execute(text("SELECT sum(n) FROM prepared_probe")).scalar_one() == 0 + 1 + 40
        conn.rollback()


def test_parameter_type_oids_are_part_of_the_cache_key(db: URL) -> None:
    """The same text with different declared parameter types (`setinputsizes`) is a different statement."""
    raw = get_engine().raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        results = []
        for oid in (pg8000.INTEGER, pg8000.TEXT, pg8000.INTEGER):
            cursor.setinputsizes(oid)
            prepared.execute(cursor, "SELECT %s AS v", (7,))
            results.append(cursor.fetchall())
        assert results == [([7],), (["7"],), ([7],)]  # typed by the Parse each was prepared with
        cache = statement_cache(raw.driver_connection)
        assert len(cache) == 2
        assert cache.prepares == 2
        assert ("SELECT $1 AS v", (pg8000.INTEGER,)) in cache
        assert ("SELECT $1 AS v", (pg8000.TEXT,)) in cache
    finally:
        raw.rollback()
        raw.close()


def test_commit_and_rollback_are_one_round_trip_each(table: None, flushes: Callable[[], int]) -> None:
    with get_engine().connect() as conn:
        conn.execute(INSERT.execution_options(**PREPARED), _params(ROWS[0]))
        flushes()
        conn.commit()
        assert flushes() == 1  # a simple-query COMMIT, not pg8000's Parse/Describe/Bind path (3)
        assert not conn.connection.dbapi_connection._in_transaction
        conn.execute(INSERT.execution_options(**PREPARED), _params(ROWS[1]))
        flushes()
        conn.rollback()
        assert flushes() == 1
        assert conn.execute(text("SELECT count(*) FROM prepared_probe")).scalar() == 1
        conn.rollback()
