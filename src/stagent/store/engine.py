"""Engine construction: every SQLite pragma is set here and nowhere else."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError


def is_sqlite(url: str) -> bool:
    """True for a ``sqlite:`` URL."""
    return make_url(url).get_backend_name() == "sqlite"


POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
"""What PostgreSQL URLs start with (hosting providers hand out ``postgres://``)."""


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the user named (or none).

    `ValueError` for a URL of another database: Stagent stores its data in SQLite or
    PostgreSQL only."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in POSTGRES_SCHEMES and parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite" and backend not in POSTGRES_SCHEMES:
        raise ValueError(f"{backend} is neither SQLite nor PostgreSQL")
    return parsed.render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    """The URL with any password hidden, safe for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the web pages, the CLI) run while a worker writes, and halves the cost of a
    # commit. It is a property of the file, so the first connection converts it for good; DBOS,
    # which shares the file, then inherits it.
    cursor.execute("PRAGMA journal_mode=WAL")
    # Wait for a competing writer (another process, DBOS's own connections) instead of failing
    # at once with "database is locked".
    cursor.execute("PRAGMA busy_timeout=30000")
    # SQLite ignores foreign keys unless told otherwise, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # In WAL mode NORMAL is durable across application crashes; only an OS crash or power loss
    # can roll back the last transactions. That is the trade every WAL application makes.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


PING_AFTER_IDLE_SECONDS = 2.0
"""A pooled PostgreSQL connection idle longer than this is pinged before it is handed out."""
_IDLE_SINCE = "stagent_idle_since"


def ping_after_idle(engine: Engine) -> None:
    """Pre-ping only connections that sat idle in the pool (SQLAlchemy's ``pool_pre_ping``
    pings on every checkout: one more round trip for each transaction of a busy worker). Ours,
    and DBOS's in a worker (`stagent.engine.durable.launch` turns its ``pool_pre_ping`` off).

    A connection that fails its ping is replaced (the pool retries the checkout). One that was
    used within the last `PING_AFTER_IDLE_SECONDS` is handed out as it is: if the server went
    away since, the statement fails once, and SQLAlchemy then discards every older pooled
    connection, so the next checkout reconnects.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"pooled connection failed its ping: {error}") from error
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


WRITE_OPTION = "stagent_write"
"""Execution option marking a connection that will write (see `Store.write`)."""


def _begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN rather than on their first write, so two writers never
    # deadlock upgrading a read lock; busy_timeout then simply queues them. Readers begin a plain
    # (deferred) transaction and never take the write lock.
    # Straight to the driver: BEGIN runs before every transaction, and SQLAlchemy's statement
    # machinery costs far more CPU than the statement.
    statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
    conn.connection.driver_connection.execute(statement)


def build_engine(url: str) -> Engine:
    """Create the engine for ``url`` with the settings this project relies on."""
    url = normalize_url(url)
    if not is_sqlite(url):
        engine = create_engine(url, pool_size=10, max_overflow=20)
        ping_after_idle(engine)
        return engine
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so we can make it IMMEDIATE.
        dbapi_connection.isolation_level = None
        _set_sqlite_pragmas(dbapi_connection, record)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:  # pyright: ignore[reportUnusedFunction]
        _begin(conn)

    return engine
