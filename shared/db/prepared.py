"""Opt-in named prepared statements for pg8000: one round trip per hot statement after its first use.

pg8000's DB-API cursor runs every parametrized statement unnamed: Parse/Sync, Describe/Sync, then Bind/Execute/Sync
(three round trips), plus a `begin transaction` of its own when a transaction starts. A statement marked with the
execution option `prepared=True` instead runs as a named statement cached on its DB-API connection:

    conn.execute(text("SELECT …").execution_options(prepared=True), params)
    session.execute(select(Job).where(...).execution_options(prepared=True))
    session.scalars(select(Job).from_statement(text("…")).execution_options(prepared=True), params)

SQLAlchemy reads the options of the statement handed to `execute`: on the text inside `from_statement()` the option
is ignored, so mark the outer one (or pass `execution_options={"prepared": True}` to `execute`).

First use on a connection: Parse/Describe/Sync (prepare), then Bind/Execute/Sync. Later uses: Bind/Execute/Sync only.
When the statement opens the transaction, its BEGIN travels in the same flush (Parse/Bind/Execute of `begin
transaction` ahead of the statement's Bind/Execute, one Sync): any error makes Postgres skip the rest up to the
Sync, so the statement never runs outside the transaction. Statements without the option run exactly as before.

Behaviour worth knowing:
- The cache belongs to the DB-API connection object: a reconnect (after a dropped connection, a pool recycle)
  starts empty. It holds `CACHE_SIZE` statements, least recently used out; evicted ones are closed on the server
  in the same flush as the next prepare. Names (`conveyor_ps_N`) are never reused, so a repeated Close is harmless.
- DDL that changes a cached statement's result columns (`SELECT *` after ADD COLUMN, a changed column type) makes
  Postgres refuse it: SQLSTATE 0A000 "cached plan must not change result type". That execution fails once with a
  normal DB-API error (its transaction is aborted anyway, so it cannot be retried transparently); the statement is
  dropped from the cache and the next use prepares it again. After `DEALLOCATE ALL` / `DISCARD ALL` (SQLSTATE
  26000 "prepared statement does not exist") the whole cache is forgotten the same way.
- After five executions Postgres may switch a prepared statement to a generic plan (`plan_cache_mode`); mark only
  statements whose plan does not depend much on the parameter values.
- The extended protocol runs one statement per string: a multi-statement text cannot be marked.
- `executemany` with the option runs each parameter set as one named execution (one round trip each).
- RDS Proxy: named prepared statements are session state, so the Proxy pins the client connection to its database
  connection for the rest of the session (from the first marked statement on). That is accepted here: each Lambda
  execution environment holds one connection and runs one request at a time, so a pinned session costs one database
  connection per warm environment. They are the only pinning left: the session defaults (`statement_timeout`,
  `TimeZone`) come from the instance's parameter group in AWS, not from a `SET` at connect (docs/infra.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any

import pg8000.legacy
from pg8000 import core
from pg8000.converters import make_params
from pg8000.dbapi import IntegrityError, InterfaceError, ProgrammingError
from pg8000.exceptions import DatabaseError
from sqlalchemy import Engine, event
from sqlalchemy.engine.interfaces import ExecutionContext

OPTION = "prepared"
CACHE_SIZE = 64
_ATTRIBUTE = "_conveyor_prepared_statements"
_BEGIN = "begin transaction"
_RESULT_TYPE_CHANGED = "0A000"  # cached plan must not change result type
_NO_SUCH_STATEMENT = "26000"  # prepared statement does not exist

Key = tuple[str, tuple[int, ...]]


@dataclass(slots=True)
class Prepared:
    """A statement prepared on the server: its name and what Describe said about its result columns."""

    name: bytes  # NUL-terminated, as the protocol wants it
    columns: list[dict[str, Any]] | None
    input_funcs: list[Any]


class StatementCache:
    """The named statements of one pg8000 connection, keyed by (SQL text, parameter type oids), LRU-bounded."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._statements: OrderedDict[Key, Prepared] = OrderedDict()
        self._to_close: list[bytes] = []  # sent ahead of the next Parse: no round trip of their own
        self._names = count()
        self.prepares = 0  # how many times a statement was prepared (tests and measurements read it)

    def __len__(self) -> int:
        return len(self._statements)

    def __contains__(self, key: object) -> bool:
        return key in self._statements

    def get(self, key: Key) -> Prepared | None:
        statement = self._statements.get(key)
        if statement is not None:
            self._statements.move_to_end(key)
        return statement

    def discard(self, key: Key) -> None:
        statement = self._statements.pop(key, None)
        if statement is not None:
            self._to_close.append(statement.name)

    def clear(self) -> None:
        """Forget every statement (the server may still hold some: close them too, which is harmless if not)."""
        self._to_close.extend(s.name for s in self._statements.values())
        self._statements.clear()

    def prepare(self, conn: pg8000.legacy.Connection, key: Key) -> Prepared:
        """Parse/Describe/Sync in one round trip, with the Close of evicted statements in front of it."""
        while self._statements and len(self._statements) >= self.size:
            _, evicted = self._statements.popitem(last=False)
            self._to_close.append(evicted.name)
        sql, oids = key
        name = f"conveyor_ps_{next(self._names)}".encode("ascii") + core.NULL_BYTE
        for old in self._to_close:
            conn._send_message(core.CLOSE, core.STATEMENT + old)
        conn.send_PARSE(name, sql, oids)
        conn.send_DESCRIBE_STATEMENT(name)
        core._write(conn._sock, core.SYNC_MSG)
        core._flush(conn._sock)
        context = core.Context(sql)
        conn.handle_messages(context)  # raises the server's error, if any, after reading up to ReadyForQuery
        self._to_close.clear()  # only now: after an error they are sent again (closing a closed name is no error)
        statement = Prepared(name, context.columns, context.input_funcs)
        self._statements[key] = statement
        self.prepares += 1
        return statement


def statement_cache(dbapi_connection: Any) -> StatementCache:
    """The cache lives on the DB-API connection itself, so a new connection (after a reset) starts empty."""
    cache = getattr(dbapi_connection, _ATTRIBUTE, None)
    if cache is None:
        cache = StatementCache(CACHE_SIZE)
        setattr(dbapi_connection, _ATTRIBUTE, cache)
    return cache


def execute(cursor: pg8000.legacy.Cursor, operation: str, args: Sequence[Any] | Mapping[str, Any] = ()) -> None:
    """Run `operation` as a cached named statement and leave its result on `cursor`, as `Cursor.execute` does."""
    conn = cursor._c
    if conn is None:
        raise InterfaceError("Cursor closed")
    if args:
        sql, vals = pg8000.legacy.convert_paramstyle(cursor.paramstyle, operation, args)  # memoized by engine.py
    else:
        sql, vals = operation, ()  # as pg8000 sends a statement without parameters: unconverted
    key: Key = (sql, tuple(cursor._input_oids))
    cache = statement_cache(conn)
    try:
        statement = cache.get(key) or cache.prepare(conn, key)
        context = _execute_named(conn, statement, make_params(conn.py_types, vals), sql)
    except AttributeError as exc:
        if conn._sock is None:
            raise InterfaceError("connection is closed") from exc
        raise
    except OSError as exc:
        # pg8000 lets a reset on the first read of a reply escape raw; as its own "network error", SQLAlchemy
        # recognizes a disconnect and drops the connection (and with it this cache) instead of reusing it.
        raise InterfaceError("network error") from exc
    except DatabaseError as exc:
        code = exc.args[0].get("C") if exc.args and isinstance(exc.args[0], dict) else None
        if code == _RESULT_TYPE_CHANGED:
            cache.discard(key)
        elif code == _NO_SUCH_STATEMENT:
            cache.clear()
        raise _dbapi_error(exc) from exc
    cursor._context = context
    cursor._row_iter = iter([] if context.rows is None else context.rows)
    cursor._input_oids = ()
    cursor.input_types = []


def executemany(cursor: pg8000.legacy.Cursor, operation: str, param_sets: Sequence[Any]) -> None:
    """One named execution per parameter set; the row count is their sum, as pg8000's `executemany` reports it."""
    input_oids = cursor._input_oids
    rowcounts = []
    for params in param_sets:
        cursor._input_oids = input_oids
        execute(cursor, operation, params)
        rowcounts.append(cursor._context.row_count)
    if not rowcounts:
        cursor._context = core.Context(None)
    else:
        cursor._context.row_count = -1 if -1 in rowcounts else sum(rowcounts)


def _execute_named(
    conn: pg8000.legacy.Connection, statement: Prepared, params: tuple[Any, ...], sql: str
) -> core.Context:
    """Bind/Execute/Sync in one flush; with a Parse/Bind/Execute of BEGIN ahead when a transaction must start.

    Unlike pg8000's own BEGIN (a simple Query, which Syncs by itself), everything up to our single Sync is skipped
    when anything fails, so the statement can never run outside the transaction it was meant for.
    """
    if not conn._in_transaction and not conn.autocommit:
        conn.send_PARSE(core.NULL_BYTE, _BEGIN, ())
        conn.send_BIND(core.NULL_BYTE, ())
        conn.send_EXECUTE()
    context = core.Context(sql, columns=statement.columns, input_funcs=statement.input_funcs)
    conn.send_BIND(statement.name, params)
    conn.send_EXECUTE()
    core._write(conn._sock, core.SYNC_MSG)
    core._flush(conn._sock)
    conn.handle_messages(context)  # BEGIN's CommandComplete carries no row count: the statement's alone is kept
    return context


def _dbapi_error(exc: DatabaseError) -> Exception:
    """The exception class `Cursor.execute` raises for this server error, so callers see no difference."""
    msg = exc.args[0]
    if not isinstance(msg, dict):
        return ProgrammingError(msg)
    cls = {"28000": InterfaceError, "23505": IntegrityError}.get(msg["C"], ProgrammingError)
    return cls(msg)


def _do_execute(cursor: Any, statement: str, parameters: Any, context: ExecutionContext) -> bool:
    if not context.execution_options.get(OPTION) or not isinstance(cursor, pg8000.legacy.Cursor):
        return False  # unmarked, or a server-side cursor (stream_results): SQLAlchemy runs it as usual
    execute(cursor, statement, parameters)
    return True


def _do_executemany(cursor: Any, statement: str, parameters: Any, context: ExecutionContext) -> bool:
    if not context.execution_options.get(OPTION) or not isinstance(cursor, pg8000.legacy.Cursor):
        return False
    executemany(cursor, statement, parameters)
    return True


def install(engine: Engine) -> None:
    """Honour `prepared=True` on this engine's statements (SQLAlchemy's dialect events: True means executed)."""
    if not event.contains(engine, "do_execute", _do_execute):
        event.listen(engine, "do_execute", _do_execute)
        event.listen(engine, "do_executemany", _do_executemany)
    # pg8000 sends COMMIT and ROLLBACK through its unnamed-statement path (three round trips); a simple-query
    # message does the same in one. The dialect instance is this engine's own, so nothing else is affected.
    engine.dialect.do_commit = _do_commit  # type: ignore[method-assign]
    engine.dialect.do_rollback = _do_rollback  # type: ignore[method-assign]


def _do_commit(dbapi_connection: Any) -> None:
    if dbapi_connection._in_transaction:  # nothing to commit after a single autocommitted statement
        dbapi_connection.execute_simple("commit")


def _do_rollback(dbapi_connection: Any) -> None:
    if dbapi_connection._in_transaction:
        dbapi_connection.execute_simple("rollback")
