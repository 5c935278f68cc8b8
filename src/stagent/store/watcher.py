"""Hear commits made by other processes, so waiters wake at once instead of polling slowly.

- SQLite: ``PRAGMA data_version`` on a dedicated connection changes whenever another connection
  commits to the file; a thread reads it every `SQLITE_POLL_SECONDS` (a few microseconds each).
- PostgreSQL: every `Store.write` transaction sends ``NOTIFY stagent_changes``; a thread LISTENs.

Either way the process's `ChangeNotifier` rings, waking SSE streams, followers, cancel watchers and
approval waits.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading

from sqlalchemy.engine import make_url

from stagent.store.notifier import ChangeNotifier

CHANNEL = "stagent_changes"
SQLITE_POLL_SECONDS = 0.02
READY_WAIT_SECONDS = 5.0
log = logging.getLogger(__name__)


class CrossProcessWatcher:
    """A daemon thread that rings ``notifier`` when another process commits."""

    def __init__(self, url: str, notifier: ChangeNotifier, *, is_sqlite: bool) -> None:
        self._url = url
        self._notifier = notifier
        self._is_sqlite = is_sqlite
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (idempotent). Returns once the thread listens, so a commit made after
        `start` returns is never missed (or after `READY_WAIT_SECONDS` if the database cannot
        be reached: the thread keeps trying)."""
        if self._thread is not None:
            return
        target = self._watch_sqlite if self._is_sqlite else self._watch_postgres
        self._thread = threading.Thread(target=target, name="stagent-watcher", daemon=True)
        self._thread.start()
        self._listening.wait(READY_WAIT_SECONDS)

    def stop(self) -> None:
        """Stop watching and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _watch_sqlite(self) -> None:
        database = make_url(self._url).database or ""
        with contextlib.closing(sqlite3.connect(database, check_same_thread=False)) as conn:
            last = conn.execute("PRAGMA data_version").fetchone()[0]
            self._listening.set()
            while not self._stop.wait(SQLITE_POLL_SECONDS):
                try:
                    current = conn.execute("PRAGMA data_version").fetchone()[0]
                except sqlite3.Error:
                    log.debug("data_version read failed", exc_info=True)
                    continue
                if current != last:
                    last = current
                    self._notifier.ring()

    def _watch_postgres(self) -> None:
        import psycopg  # only PostgreSQL workspaces load the driver

        url = make_url(self._url).set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    if self._listening.is_set():
                        self._notifier.ring()  # commits while reconnecting went unheard
                    self._listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._notifier.ring()
            except psycopg.Error:
                log.debug("LISTEN connection lost; reconnecting", exc_info=True)
                self._stop.wait(1.0)
