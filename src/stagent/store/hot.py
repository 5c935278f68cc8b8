"""The PostgreSQL connections of the hot path (a running agent's events), outside SQLAlchemy.

A `RunWriter` batch is one round trip (`stagent.store.feed.append_in_order`); checking
a connection out of SQLAlchemy's pool and closing the `Connection` around it (events, isolation
level set and reset, the reset-on-return) cost about a third of the writer's CPU per batch. These
connections are plain psycopg connections in autocommit mode, kept idle in a small stack per
`Store`: checking one out is a ``list.pop``.

Each is used by one thread at a time (checked out for one batch). psycopg never prepares a
statement of its own on them (``prepare_threshold=None``), so it never sends ``DEALLOCATE ALL``
there (see `stagent.store.feed`). A connection is kept only when it is back idle and healthy: one
a failure left broken or inside a transaction is closed, and the next batch opens a new one. One
that sat idle for `stagent.store.engine.PING_AFTER_IDLE_SECONDS` is pinged before use (a server
restart or an idle timeout closed it: replaced unnoticed), as the pool does for SQLAlchemy's.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.pq import ConnStatus, TransactionStatus
from sqlalchemy import Dialect
from sqlalchemy.engine import make_url

from stagent.store import engine as engine_module

KEEP_IDLE = 4
"""Idle hot connections a store keeps open (one per thread that writes runs' events at once;
more are opened when needed and closed after)."""


@dataclass(eq=False)
class HotConnection:
    """A psycopg connection (autocommit) of the hot path, and what was prepared on it."""

    driver: psycopg.Connection[Any]
    secrets: tuple[str, ...] = ()
    """Secrets scrubbed from the payloads written on it (the store's, at checkout)."""
    info: dict[str, Any] = field(default_factory=dict[str, Any])
    """Kept as long as the connection lives: which statements are prepared there."""
    idle_since: float = 0.0


@dataclass(eq=False)
class SqliteHotConnection:
    """SQLite's counterpart, for a write that skips SQLAlchemy: the pool's driver connection
    (``isolation_level`` None, no transaction open: the caller begins one), the engine's
    dialect (statements are compiled for it once) and the secrets scrubbed from payloads."""

    driver: sqlite3.Connection
    dialect: Dialect
    secrets: tuple[str, ...] = ()


class HotPool:
    """The idle hot connections of one store (thread-safe)."""

    def __init__(self, url: str) -> None:
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._idle: list[HotConnection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def checkout(self, secrets: tuple[str, ...]) -> HotConnection:
        """An idle connection (pinged if it idled long), or a new one."""
        while True:
            with self._lock:
                if self._pid != os.getpid():  # forked: the parent's sockets are not ours
                    self._idle, self._pid = [], os.getpid()
                hot = self._idle.pop() if self._idle else None
            if hot is None:
                driver = psycopg.connect(self._conninfo, autocommit=True, prepare_threshold=None)
                return HotConnection(driver, secrets)
            if _alive(hot):
                hot.secrets = secrets
                return hot
            hot.driver.close()

    def checkin(self, hot: HotConnection) -> None:
        """Keep ``hot`` for the next batch if it is healthy and idle; otherwise close it."""
        driver = hot.driver
        pgconn = driver.pgconn  # its status read straight from libpq (psycopg's are wrappers)
        healthy = pgconn.status == ConnStatus.OK
        if healthy and pgconn.transaction_status == TransactionStatus.IDLE:
            hot.idle_since = time.monotonic()
            with self._lock:
                if self._pid == os.getpid() and len(self._idle) < KEEP_IDLE:
                    self._idle.append(hot)
                    return
        driver.close()

    def close(self) -> None:
        """Close every idle connection (the store is being disposed of; it may open more)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for hot in idle:
            hot.driver.close()


def _alive(hot: HotConnection) -> bool:
    """False if the connection is closed, or idled long and fails a ping."""
    if hot.driver.closed or hot.driver.broken:
        return False
    if time.monotonic() - hot.idle_since < engine_module.PING_AFTER_IDLE_SECONDS:
        return True
    try:
        hot.driver.execute("SELECT 1", prepare=False)
    except psycopg.Error:
        return False
    return True
