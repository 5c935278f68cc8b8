"""Core statements of a run's hot path sent straight to SQLite's driver.

SQLAlchemy's ``Connection.execute`` costs several times what SQLite does for a primary-key
``UPDATE`` or a one-row ``INSERT`` (execution context, events, result set-up). A `Prebuilt`
statement is compiled once per dialect and set of parameter names, with SQLAlchemy's own bind
processors (JSON, timestamps), and then sent on the session's DBAPI connection: the same SQL
and the same stored values, in the same transaction, for a fraction of the CPU.

Only on SQLite (PostgreSQL keeps SQLAlchemy's path: its writes there are held for the commit's
round trip or go over hot connections, `stagent.store.hot`). A statement whose compiled form
computes Python-side defaults (an ``onupdate`` column the parameters leave out) goes through
SQLAlchemy too. Statements sent this way do not fire SQLAlchemy's ``before_cursor_execute``:
count statements with the driver's trace callback (``benchmarks.engine`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase

_Compiled = tuple[str, tuple[str, ...], dict[str, Callable[[Any], Any]]] | None
"""SQL text, its parameter names in order, their bind processors; None: not prebuildable."""


class Prebuilt:
    """An ``INSERT``/``UPDATE`` run on SQLite's DBAPI cursor (SQLAlchemy's elsewhere)."""

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, ...], _Compiled] = {}

    def execute(self, conn: Connection, params: dict[str, Any]) -> int:
        """Run with one set of parameters; the number of rows it changed."""
        compiled = self._compile(conn, tuple(params))
        if compiled is None:
            return conn.execute(self.statement, params).rowcount
        sql, names, processors = compiled
        values = _values(names, processors, params)
        with _cursor(conn, sql, values) as cursor:
            cursor.execute(sql, values)
            return cursor.rowcount

    def executemany(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run once per row (the rows share their parameter names), in order."""
        compiled = self._compile(conn, tuple(rows[0]))
        if compiled is None:
            conn.execute(self.statement, list(rows))
            return
        sql, names, processors = compiled
        values = [_values(names, processors, row) for row in rows]
        with _cursor(conn, sql, values) as cursor:
            cursor.executemany(sql, values)

    def _compile(self, conn: Connection, keys: tuple[str, ...]) -> _Compiled:
        if conn.dialect.name != "sqlite":
            return None
        try:
            return self._compiled[keys]
        except KeyError:
            pass
        compiled = self.statement.compile(dialect=conn.dialect, column_keys=list(keys))
        prefetch = compiled.insert_prefetch or compiled.update_prefetch
        names = compiled.positiontup
        built: _Compiled = None
        processors: dict[str, Any] = dict(compiled._bind_processors)  # pyright: ignore[reportPrivateUsage]
        plain = all(callable(processor) for processor in processors.values())  # no tuple types
        if plain and not prefetch and names is not None and set(names) <= set(keys):
            built = (compiled.string, tuple(names), processors)
        self._compiled[keys] = built
        return built


@contextmanager
def _cursor(conn: Connection, sql: str, values: list[Any]) -> Generator[Any]:
    """The connection's DBAPI cursor, closed after; a driver error comes out as SQLAlchemy's
    (``IntegrityError``, ``OperationalError`` ...), as it would from ``conn.execute``."""
    dbapi: Any = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()  # pyright: ignore[reportOptionalMemberAccess]
    try:
        yield cursor
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, values, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


def _values(
    names: tuple[str, ...], processors: dict[str, Callable[[Any], Any]], params: dict[str, Any]
) -> list[Any]:
    """The parameters in ``names``' order, each through its processor (None too, as SQLAlchemy
    does: a JSON column stores None as its processor says)."""
    values: list[Any] = []
    for name in names:
        processor = processors.get(name)
        values.append(params[name] if processor is None else processor(params[name]))
    return values


__all__ = ["Prebuilt"]
