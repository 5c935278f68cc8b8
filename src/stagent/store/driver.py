"""Core statements sent straight to SQLite's driver, compiled once: the run hot path's (run and
task updates, event inserts, the queued run's insert, the run's end read: `PrebuiltRead`) and a
budget admission's (its reservation and note, on a bare driver connection:
`stagent.store.hot_admission`).

SQLAlchemy's ``Connection.execute`` costs several times what SQLite does for a primary-key
``UPDATE`` or a one-row ``INSERT`` (execution context, events, result set-up). A `Prebuilt`
statement is compiled once per dialect and set of parameter names, with SQLAlchemy's own bind
processors (JSON, timestamps), and then sent on the DBAPI connection: the same SQL and the same
stored values, in the same transaction, for a fraction of the CPU. A driver error comes out as
SQLAlchemy's (``IntegrityError``, ``OperationalError`` ...), as it would from ``conn.execute``.

Only on SQLite (PostgreSQL keeps SQLAlchemy's path: its writes there are held for the commit's
round trip or go over hot connections, `stagent.store.hot`). A statement whose compiled form
computes Python-side defaults (an ``onupdate`` column the parameters leave out) goes through
SQLAlchemy too (on a bare driver connection it is refused). Statements sent this way do not fire
SQLAlchemy's ``before_cursor_execute``: count statements with the driver's trace callback
(``benchmarks.engine`` does).
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

_Built = tuple[str, "_Binds"]
"""SQL text, and how its parameters are put in order and processed."""
_Compiled = _Built | None
"""None: not prebuildable (SQLAlchemy runs it)."""


class Prebuilt:
    """An ``INSERT``/``UPDATE`` run on SQLite's DBAPI cursor (SQLAlchemy's elsewhere)."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def execute(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run with one set of parameters; the number of rows it changed."""
        compiled = self._compile(conn.dialect, tuple(params))
        if compiled is None:
            return conn.execute(self.statement, params).rowcount
        return _run(_driver(conn), conn.dialect, compiled, params)

    def execute_on_driver(self, driver: Any, dialect: Dialect, params: dict[str, Any]) -> int:
        """`execute` on SQLite's bare driver connection (``driver``, of an engine of
        ``dialect``, in its open transaction: no SQLAlchemy ``Connection`` around it).
        Raises ValueError for a statement SQLAlchemy would have to run (see the module)."""
        compiled = self._compile(dialect, tuple(params))
        if compiled is None:
            raise ValueError(f"not a statement for {dialect.name}'s bare driver: {self.statement}")
        return _run(driver, dialect, compiled, params)

    def executemany(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run once per row (the rows share their parameter names), in order."""
        compiled = self._compile(conn.dialect, tuple(rows[0]))
        if compiled is None:
            conn.execute(self.statement, list(rows))
            return
        sql, binds = compiled
        _executemany(_driver(conn), conn.dialect, sql, [binds(row) for row in rows])

    def insert_many_on_driver(
        self, driver: Any, dialect: Dialect, rows: Sequence[dict[str, Any]]
    ) -> None:
        """`executemany` for an ``INSERT`` on SQLite's bare driver connection (as
        `execute_on_driver`): the rows (in order, sharing their parameter names) in one
        multi-row statement (``VALUES (...), (...)``; at most
        `ROWS_PER_INSERT` a statement), not one statement per row: the same rows, in the same
        order (a table's ``INTEGER PRIMARY KEY`` grows in the rows' order)."""
        compiled = self._compile(dialect, tuple(rows[0]))
        if compiled is None:
            raise ValueError(f"not a statement for {dialect.name}'s bare driver: {self.statement}")
        sql, binds = compiled
        head, one = _values_clause(sql)
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            many = head + ", ".join([one] * len(chunk))
            values = [value for row in chunk for value in binds(row)]
            _run_values(driver, dialect, many, values)

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        if dialect.name != "sqlite":
            return None
        try:
            return self._compiled[keys]
        except KeyError:
            pass
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        prefetch = compiled.insert_prefetch or compiled.update_prefetch
        names = compiled.positiontup
        built: _Compiled = None
        processors: dict[str, Any] = dict(compiled._bind_processors)  # pyright: ignore[reportPrivateUsage]
        plain = all(callable(processor) for processor in processors.values())  # no tuple types
        if plain and not prefetch and names is not None and set(names) <= set(keys):
            for name, process in processors.items():
                bound = compiled.binds.get(name)
                impl = bound.type.dialect_impl(dialect) if bound is not None else None
                storage = getattr(impl, "_storage_format", None)
                if isinstance(impl, DateTime) and isinstance(storage, str):
                    processors[name] = _remembering(process, storage)
            built = (compiled.string, _Binds(tuple(names), processors))
        self._compiled[keys] = built
        return built


@dataclass(frozen=True, slots=True)
class _Read:
    """A `PrebuiltRead` compiled for SQLite: the SQL text (an ``IN`` of literal values
    expanded), its parameter names in order with the values of its literal ones and their
    bind processors, and the result's column keys with their result processors (None: the
    driver's value as it is)."""

    sql: str
    literals: dict[str, Any]
    binds: _Binds
    keys: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class PrebuiltRead:
    """A ``SELECT`` of at most one row, run on SQLite's DBAPI cursor, its values through
    SQLAlchemy's own processors (JSON decoded, timestamps parsed: what ``conn.execute``
    returns); SQLAlchemy runs it elsewhere. Compiled on its first execution: the caller's
    parameters must be plain values (no list for an ``IN``), the statement's literal ones are
    fixed then."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: _Read | None = None

    def one_or_none(self, conn: Connection, params: dict[str, Any]) -> dict[str, Any] | None:
        """The row as a mapping of column keys to values, None if there is none."""
        if conn.dialect.name != "sqlite":
            found = conn.execute(self.statement, params).mappings().one_or_none()
            return dict(found) if found is not None else None
        return self.one_or_none_on_driver(_driver(conn), conn.dialect, params)

    def one_or_none_on_driver(
        self, driver: Any, dialect: Dialect, params: dict[str, Any]
    ) -> dict[str, Any] | None:
        """`one_or_none` on SQLite's bare driver connection (``driver``, of an engine of
        ``dialect``; no SQLAlchemy ``Connection`` around it)."""
        read = self._compiled or self._compile(dialect, params)
        values = read.binds({**read.literals, **params})
        cursor = driver.cursor()
        try:
            cursor.execute(read.sql, values)
            row = cursor.fetchone()
        except Exception as exc:
            _raise_translated(exc, dialect, read.sql, values)
            raise
        finally:
            cursor.close()
        if row is None:
            return None
        return {
            key: value if process is None else process(value)
            for key, value, process in zip(read.keys, row, read.results, strict=True)
        }

    def _compile(self, dialect: Dialect, params: dict[str, Any]) -> _Read:
        compiled = self.statement.compile(dialect=dialect)
        expanded = compiled.construct_expanded_state(params)
        binds: dict[str, Any] = dict(compiled._bind_processors)  # pyright: ignore[reportPrivateUsage]
        columns = tuple(self.statement.selected_columns)
        read = _Read(
            sql=expanded.statement,
            literals={k: v for k, v in expanded.parameters.items() if k not in params},
            binds=_Binds(tuple(expanded.positiontup or ()), {**binds, **expanded.processors}),
            keys=tuple(str(column.key) for column in columns),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns
            ),
        )
        self._compiled = read
        return read


def _driver(conn: Connection) -> Any:
    return conn.connection.driver_connection


ROWS_PER_INSERT = 100
"""The most rows `Prebuilt.insert_many_on_driver` sends in one statement (SQLite binds at
most 32,766 parameters a statement; an event row has 7)."""


@functools.cache
def _values_clause(sql: str) -> tuple[str, str]:
    """A one-row ``INSERT ... VALUES (?, ...)`` split into its head (up to and with
    ``VALUES``) and its row of placeholders. ValueError for any other shape (``RETURNING``,
    ``ON CONFLICT``, named placeholders)."""
    head, sep, row = sql.rpartition(" VALUES ")
    if not (head.startswith("INSERT ") and sep and _PLACEHOLDERS.fullmatch(row)):
        raise ValueError(f"not a one-row INSERT of positional values: {sql}")
    return head + sep, row


_PLACEHOLDERS = re.compile(r"\(\?(?:, \?)*\)")


def _run(driver: Any, dialect: Dialect, compiled: _Built, params: dict[str, Any]) -> int:
    """One compiled statement with one set of parameters on ``driver``; rows changed."""
    sql, binds = compiled
    return _run_values(driver, dialect, sql, binds(params))


def _run_values(driver: Any, dialect: Dialect, sql: str, values: list[Any]) -> int:
    """``sql`` with its bound ``values`` on a cursor of ``driver``, closed after; rows
    changed."""
    cursor = driver.cursor()
    try:
        cursor.execute(sql, values)
        return cursor.rowcount
    except Exception as exc:
        _raise_translated(exc, dialect, sql, values)
        raise
    finally:
        cursor.close()


def _executemany(driver: Any, dialect: Dialect, sql: str, values: list[list[Any]]) -> None:
    """``sql`` once per row of ``values`` on a cursor of ``driver``, closed after."""
    cursor = driver.cursor()
    try:
        cursor.executemany(sql, values)
    except Exception as exc:
        _raise_translated(exc, dialect, sql, values)
        raise
    finally:
        cursor.close()


def _raise_translated(exc: Exception, dialect: Dialect, sql: str, values: Sequence[Any]) -> None:
    """Raise a driver error as SQLAlchemy's (``IntegrityError``, ``OperationalError`` ...), as
    ``conn.execute`` raises it; return for any other error (the caller re-raises it as it is).
    A plain try/except at each call, not a context manager: the hot path's statements go through
    here several times a step."""
    dbapi: Any = dialect.loaded_dbapi
    if isinstance(exc, dbapi.Error):
        raise DBAPIError.instance(sql, values, exc, dbapi.Error, dialect=dialect) from exc


_last_timestamp: tuple[Any, str, Any] = (None, "", None)
"""The timestamp bound last through `_remembering`: its value, its storage format, its text."""


def _remembering(process: Callable[[Any], Any], storage: str) -> Callable[[Any], Any]:
    """SQLite's timestamp bind processor ``process`` (its text in ``storage`` format), giving
    the text of the value it was given last again without formatting it (one slot shared by
    every statement and thread: a step binds one ``now`` to several columns and event rows,
    17 timestamp binds of 10 distinct values; a datetime is immutable, and the slot holds it,
    so its identity is not reused while it is there)."""

    def remembered(value: Any) -> Any:
        global _last_timestamp
        last = _last_timestamp
        if last[0] is value and last[1] is storage:
            return last[2]
        text = process(value)
        _last_timestamp = (value, storage, text)
        return text

    return remembered


class _Binds:
    """A statement's parameters in its order, each through its bind processor (None too, as
    SQLAlchemy does: a JSON column stores None as its processor says). Built once per compiled
    statement: a call is one ``itemgetter`` and the processed positions only (not a lookup and
    an append per parameter: several statements a step go through here). A missing parameter
    raises KeyError."""

    __slots__ = ("_get", "_many", "_processed")

    def __init__(self, names: tuple[str, ...], processors: dict[str, Callable[[Any], Any]]) -> None:
        self._many = len(names) != 1  # itemgetter of one name gives the value, not a tuple
        self._get: Callable[[dict[str, Any]], Any] = (
            operator.itemgetter(*names) if names else lambda params: ()
        )
        found = [(i, processors.get(name)) for i, name in enumerate(names)]
        self._processed = tuple((i, p) for i, p in found if p is not None)

    def __call__(self, params: dict[str, Any]) -> list[Any]:
        got = self._get(params)
        values = list(got) if self._many else [got]
        for i, process in self._processed:
            values[i] = process(values[i])
        return values


__all__ = ["Prebuilt", "PrebuiltRead"]
