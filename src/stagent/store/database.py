"""The `Store`: engine, sessions, migrations and the post-commit change signal."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection as Connection  # re-exported: what `flushed_connection` gives
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session as Session  # re-exported: the type `read`/`write` yield
from sqlalchemy.orm import sessionmaker

from stagent.domain.errors import DatabaseUnavailableError, NotFoundError, ValidationError
from stagent.domain.scrub import normalize
from stagent.store import feed
from stagent.store.connection import flushed_connection as flushed_connection  # re-exported
from stagent.store.engine import WRITE_OPTION, build_engine, is_sqlite, normalize_url, redact_url
from stagent.store.events import COMMIT_STATEMENTS, OUTBOX_INFO, OUTBOX_ROWS, SECRETS_INFO
from stagent.store.hot import HotConnection, HotPool, SqliteHotConnection
from stagent.store.notifier import ChangeNotifier
from stagent.store.watcher import CrossProcessWatcher


class Store:
    """Owns the database engine. Open sessions with `read` and `write`."""

    def __init__(self, url: str) -> None:
        try:
            self.url = normalize_url(url)
            self.engine: Engine = build_engine(self.url)
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise DatabaseUnavailableError(
                f"cannot open database: {url.split('@')[-1]!r} is not a SQLite or PostgreSQL URL",
                hint="use sqlite:////path/file.sqlite or postgresql+psycopg://user@host/db",
            ) from None
        self.is_sqlite = is_sqlite(self.url)
        if self.is_sqlite:
            _ensure_private_file(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_engine = self.engine.execution_options(**{WRITE_OPTION: True})
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # `write(lock=...)`: the driver in autocommit mode, the transaction begun by hand.
        self._locked_sessions = sessionmaker(
            self._autocommit_engine.execution_options(**{WRITE_OPTION: True}),
            expire_on_commit=False,
        )
        self._write_sessions.configure(info={SECRETS_INFO: ()})
        self._locked_sessions.configure(info={SECRETS_INFO: ()})
        self._secrets: tuple[str, ...] = ()
        self._hot = None if self.is_sqlite else HotPool(self.url)
        self._kept = threading.local()  # a thread's kept driver connection (`keeping_hot`)
        self.changes = ChangeNotifier()
        self._watcher = CrossProcessWatcher(self.url, self.changes, is_sqlite=self.is_sqlite)

    def scrub_secrets(self, secrets: list[str]) -> None:
        """Secrets replaced by ``[redacted]`` in every event payload appended from now on."""
        password = make_url(self.url).password
        values = [*secrets, *([str(password)] if password else [])]
        self._secrets = tuple(normalize(values))
        self._write_sessions.configure(info={SECRETS_INFO: self._secrets})
        self._locked_sessions.configure(info={SECRETS_INFO: self._secrets})

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden."""
        return redact_url(self.url)

    def check_connection(self) -> None:
        """Raise `DatabaseUnavailableError` (one line, naming the URL) if the DB is unreachable."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise DatabaseUnavailableError(
                f"cannot open database {self.safe_url}: {reason}",
                hint="check STAGENT_DATABASE_URL (or --database-url) and that the server runs",
            ) from None

    @contextmanager
    def read(self) -> Generator[Session]:
        """A session for reading; nothing it does is committed (a lookup of an id or name
        holding a NUL byte finds nothing: `nul_refused`)."""
        with nul_refused(reading=True), self._sessions() as session:
            yield session

    def read_value(self, sql: str) -> Any:
        """The first column of the first row of one plain-SQL read (None if no row), sent
        outside any transaction -- one statement reads a consistent snapshot by itself -- so
        without a Session, ``BEGIN`` or ``ROLLBACK``: on SQLite straight on the driver, on
        PostgreSQL one round trip in autocommit mode (on a thread inside `keeping_hot`, on the
        SQLite connection it keeps)."""
        if self.is_sqlite:
            kept = self._kept_connection()
            if kept is not None:
                with self._using_kept(kept) as driver:
                    row = driver.execute(sql).fetchone()
                return row[0] if row is not None else None
            pooled = self.engine.raw_connection()
            try:
                driver: Any = pooled.driver_connection
                row = driver.execute(sql).fetchone()
            finally:
                pooled.close()
        else:
            with self._autocommit_engine.connect() as conn:
                row = conn.exec_driver_sql(sql).first()
        return row[0] if row is not None else None

    @contextmanager
    def write(self, *, lock: int | None = None) -> Generator[Session]:
        """A transaction that commits on success, then rings the change signal.

        On PostgreSQL the transaction also notifies other processes (LISTEN/NOTIFY); on SQLite they
        see the file's ``data_version`` move. See `stagent.store.watcher`. It takes no
        workspace-wide lock: events it appended (to the outbox) are published after the commit.

        With ``lock`` (a PostgreSQL advisory lock key), the transaction holds that lock from its
        start: ``BEGIN`` and the lock go in one round trip (`_begin_locked`), at ``READ
        COMMITTED``, so each later statement sees what the lock's last holder committed. SQLite
        needs no such lock: a write transaction holds the file's write lock from ``BEGIN``.
        """
        if lock is not None and not self.is_sqlite:
            with nul_refused(reading=False), self._locked_sessions() as session, session.begin():
                driver = _begin_locked(session, lock)
                try:
                    yield from self._written(session)
                except BaseException:
                    feed.roll_back(driver)  # never back to the pool holding the lock
                    raise
            self.changes.ring()
            return
        with nul_refused(reading=False), self._write_sessions() as session, session.begin():
            yield from self._written(session)
        self.changes.ring()

    def _written(self, session: Session) -> Generator[Session]:
        """`write`'s transaction body: hand out ``session``, then end the transaction."""
        if not self.is_sqlite:
            session.info[OUTBOX_ROWS] = []
        yield session
        if not self.is_sqlite:
            # No writer holds a workspace-wide lock: its events go to the outbox and get
            # their ``seq`` right after the commit, in feed order, in the commit's round
            # trip (`stagent.store.feed`).
            conn = flushed_connection(session)
            feed.commit_and_publish(
                conn,
                appended=session.info.pop(OUTBOX_INFO, False),
                held=session.info.pop(OUTBOX_ROWS),
                statements=session.info.pop(COMMIT_STATEMENTS, ()),
            )

    @contextmanager
    def write_connection(self) -> Generator[Connection]:
        """A connection for the hot path (a run's events), which skips the ORM.

        On SQLite it is one write transaction. On PostgreSQL it is in autocommit mode -- write
        with single statements -- and takes no feed lock: events appended on it
        (`stagent.store.run_writes.append_events`) go to the outbox and are published in their
        insert's own round trip (`stagent.store.feed`), so workers commit in parallel.
        """
        if self.is_sqlite:
            with self._write_engine.begin() as conn:
                conn.info[SECRETS_INFO] = self._secrets
                yield conn
        else:
            with self._autocommit_engine.connect() as conn:
                conn.info[SECRETS_INFO] = self._secrets
                yield conn
        self.changes.ring()

    @contextmanager
    def hot_connection(self) -> Generator[HotConnection]:
        """PostgreSQL only: a hot-path connection (`stagent.store.hot`: psycopg, autocommit, no
        SQLAlchemy around it) for one batch of a run's events
        (`stagent.store.run_writes.append_hot_events`); rings the change signal after."""
        if self._hot is None:
            raise ValueError("hot connections are PostgreSQL's; use write_connection on SQLite")
        hot = self._hot.checkout(self._secrets)
        try:
            yield hot
        finally:
            self._hot.checkin(hot)
        self.changes.ring()

    @contextmanager
    def sqlite_hot_connection(self) -> Generator[SqliteHotConnection]:
        """SQLite only: the pool's driver connection with no SQLAlchemy around it
        (`stagent.store.hot.SqliteHotConnection`), for a write transaction the caller begins
        and ends itself (``BEGIN IMMEDIATE``, as `write`'s); rings the change signal after.
        The pool rolls back whatever it left open when the connection goes back. On a thread
        inside `keeping_hot` the connection is the one the thread keeps (no pool round)."""
        if not self.is_sqlite:
            raise ValueError("sqlite_hot_connection is SQLite's; use hot_connection")
        kept = self._kept_connection()
        if kept is not None:
            yield from self._on_kept(kept)
            return
        pooled = self.engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            yield SqliteHotConnection(driver, self.engine.dialect, self._secrets)
        finally:
            pooled.close()
        self.changes.ring()

    def _kept_connection(self) -> Any:
        """The pooled connection this thread keeps for this store (taken from the pool at its
        first use), or None: the thread keeps none (`keeping_hot`), or it is in use (a nested
        use takes one from the pool)."""
        keeping: list[Store] | None = getattr(_keeping, "stores", None)
        kept = self._kept
        if keeping is None or getattr(kept, "busy", False):
            return None
        pooled = getattr(kept, "pooled", None)
        if pooled is None:
            pooled = kept.pooled = self.engine.raw_connection()
            keeping.append(self)
        return pooled

    def _on_kept(self, pooled: Any) -> Generator[SqliteHotConnection]:
        with self._using_kept(pooled) as driver:
            yield SqliteHotConnection(driver, self.engine.dialect, self._secrets)
        self.changes.ring()

    @contextmanager
    def _using_kept(self, pooled: Any) -> Generator[Any]:
        """The kept connection's driver, marked in use while inside; what a use left open is
        rolled back after, as the pool's reset on checkin would."""
        driver: Any = pooled.driver_connection
        self._kept.busy = True
        try:
            yield driver
        finally:
            self._kept.busy = False
            if driver.in_transaction:
                driver.rollback()

    def _give_back_kept(self) -> None:
        """Return this thread's kept connection to the pool (`keeping_hot`'s exit)."""
        pooled = getattr(self._kept, "pooled", None)
        self._kept.pooled = None
        if pooled is not None:
            pooled.close()

    def notify(self) -> None:
        """Tell this process's waiters, and on PostgreSQL every other process's (one NOTIFY),
        that something was committed outside `write`: a queue entry DBOS's client wrote on its
        own connection. (On SQLite other processes see the file's ``data_version`` move.)"""
        if not self.is_sqlite:
            with self._autocommit_engine.connect() as conn:
                conn.exec_driver_sql(f"NOTIFY {feed.CHANNEL}")
        self.changes.ring()

    def publish(self) -> None:
        """Move committed outbox events into the feed (PostgreSQL; a no-op on SQLite)."""
        if not self.is_sqlite:
            with self._autocommit_engine.connect() as conn:
                feed.publish(conn)

    def watch_other_processes(self) -> None:
        """Wake this process's waiters when another process commits (idempotent)."""
        self._watcher.start()

    def upgrade(self) -> None:
        """Apply every pending migration (idempotent)."""
        from stagent.store.migrate import upgrade_to_head

        self.check_connection()
        upgrade_to_head(self.engine)

    def dispose(self) -> None:
        """Stop watching and close every pooled connection."""
        self._watcher.stop()
        if self._hot is not None:
            self._hot.close()
        self.engine.dispose()


_keeping = threading.local()
"""``stores``: on a thread inside `keeping_hot`, the stores whose connection it keeps."""


@contextmanager
def keeping_hot() -> Generator[None]:
    """While inside, on the calling thread: `Store.sqlite_hot_connection` of each SQLite store
    keeps one driver connection for this thread (checked out of the pool at its first use,
    checked in when the block ends) instead of a pool checkout and checkin per use. For one
    long-lived thread that writes often: the worker's run loop (`stagent.engine.run_loop`),
    where every workflow step's start and budget admission use it. A use that leaves its
    transaction open has it rolled back, as the pool's checkin would."""
    if getattr(_keeping, "stores", None) is not None:  # nested: the outer block gives back
        yield
        return
    stores: list[Store] = []
    _keeping.stores = stores
    try:
        yield
    finally:
        del _keeping.stores
        for store in stores:
            store._give_back_kept()  # pyright: ignore[reportPrivateUsage]


@contextmanager
def nul_refused(*, reading: bool) -> Generator[None]:
    """PostgreSQL's text holds no NUL byte, so its driver refuses one in any parameter (a
    `DataError`): the services refuse NUL in what they store, naming the field; what is left is
    an id or name to look up, which no row can have -- not found (``reading``) or refused (in a
    write), never a server error."""
    try:
        yield
    except DataError as exc:
        if "NUL (0x00)" not in str(exc.orig):
            raise
        if reading:
            raise NotFoundError(
                "nothing has an id or name with a NUL byte", hint="remove the NUL byte"
            ) from None
        raise ValidationError(
            "the request holds a NUL byte, which no stored id, name or text can hold",
            hint="remove the NUL byte",
        ) from None


def _begin_locked(session: Session, key: int) -> Any:
    """Begin ``session``'s transaction (its connection is in autocommit mode: the driver sends
    no ``BEGIN`` of its own) holding advisory lock ``key``, in one round trip. The transaction
    then ends like any other write, with the ``COMMIT`` `feed.commit_and_publish` sends; should
    anything fail before, it is rolled back (the lock with it) before the connection goes back
    to the pool."""
    driver: Any = session.connection().connection.driver_connection
    try:
        driver.execute(
            f"BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock({key:d})",
            prepare=False,
        )
    except Exception:
        feed.roll_back(driver)
        raise
    return driver


def _ensure_private_file(url: str) -> None:
    """Create the SQLite file (and its directory) readable by its owner only, before SQLite does.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's mode, so they are 0600 too.
    """
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for item in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if item.exists() and item.stat().st_mode & 0o077:
                item.chmod(0o600)
