"""Counting the SQL statements and commits a benchmark's process sends, SQLite's driver included.

On SQLite the count is taken at the driver (its trace callback on every connection a pool
opens while attached): what SQLAlchemy runs and what the hot path sends to the driver itself
(`stagent.store.driver`, `stagent.store.step_start`), which SQLAlchemy's events never see.
BEGIN, ROLLBACK, PRAGMA and savepoints are not counted, each row of an executemany is, a
trigger's body is not. On PostgreSQL SQLAlchemy's events count (statements sent on hot
connections, `stagent.store.hot`, are not counted).
"""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

_NOT_COUNTED = frozenset({"BEGIN", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE", "END"})


class Statements:
    """Counts statements and commits of every engine in this process while `on`.

    Attached (its listeners registered) from `attach` to `detach`: connections opened in
    between count, on every thread, or on every thread but the main one with
    ``skip_main_thread`` (a benchmark's own waiting reads run there). The listeners cost CPU
    of their own, so timed runs go without them."""

    def __init__(self, *, skip_main_thread: bool = False) -> None:
        self.on = False
        self.statements = 0
        self.commits = 0
        self._skip_main = skip_main_thread

    def attach(self) -> None:
        """Register the listeners (a workspace opened after this is counted)."""
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        event.listen(Pool, "connect", self._connected)

    def detach(self) -> None:
        """Remove the listeners (connections already traced keep their callback)."""
        event.remove(Engine, "before_cursor_execute", self._statement)
        event.remove(Engine, "commit", self._commit)
        event.remove(Pool, "connect", self._connected)

    def _counts(self) -> bool:
        if not self.on:
            return False
        return not (self._skip_main and threading.current_thread() is threading.main_thread())

    def _connected(self, dbapi_connection: object, record: object) -> None:
        del record
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.set_trace_callback(self._traced)

    def _traced(self, sql: str) -> None:
        if not self._counts():
            return
        word = sql.lstrip()[:8].split(None, 1)[0].upper() if sql.strip() else ""
        if word == "COMMIT":
            self.commits += 1
        elif word not in _NOT_COUNTED and not word.startswith("--"):  # "--": a trigger's body
            self.statements += 1

    def _statement(self, conn: Connection, *args: object) -> None:
        del args
        self.statements += conn.dialect.name != "sqlite" and self._counts()

    def _commit(self, conn: Connection) -> None:
        self.commits += conn.dialect.name != "sqlite" and self._counts()

    def per(self, count: int) -> str:
        """``statements/commits`` per unit, and reset."""
        text = f"{self.statements / count:.1f}/{self.commits / count:.1f}"
        self.statements = self.commits = 0
        return text
