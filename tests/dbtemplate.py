"""A SQLite file migrated to head once per test process, copied where a test needs a fresh one.

Migrating an empty SQLite file runs every Alembic revision (0.5-1 s of CPU, more under load) and
most tests open a fresh workspace, so the suite spent minutes re-running the same migrations.
`install` wraps `stagent.store.migrate.upgrade_to_head`: an *empty* SQLite database gets the
template's pages through SQLite's online backup API (a few milliseconds, safe while the engine
holds connections) instead; anything else (PostgreSQL, a database at an older revision, a test
under ``tests/store``, which tests the migrations themselves) runs the real migrations.

PostgreSQL: `pg_template` is a database migrated once per process; the root conftest's
``pg_url`` creates each test's database as a copy of it (``CREATE DATABASE ... TEMPLATE``
costs what an empty one does; migrating one cost 4-9 s of wall under load).

Each template is built by the real migrations at the first use in each process (an xdist worker
is a process, so each worker owns its file and its database).
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from stagent.store import migrate

_real_upgrade = migrate.upgrade_to_head
_template: Path | None = None
_engine_template: Path | None = None
_pg_template: str | None = None
enabled = True
"""Set per test by the root conftest (False for the migration tests under ``tests/store``)."""
engine_tables = False
"""Set by the root conftest's ``worker`` fixture while its workspace opens: that database also
gets the tables DBOS creates at a worker's first launch (its own migrations cost ~2 s of wall
under load), with no rows but the two migration versions."""
KEPT_ROWS = ("stagent_alembic_version", "dbos_migrations")


def template() -> Path:
    """This process's SQLite file at head (built on first use by the real migrations)."""
    global _template
    if _template is None:
        from stagent.store.database import Store

        path = Path(tempfile.mkdtemp(prefix="stagent-template-")) / "template.sqlite"
        store = Store(f"sqlite:///{path}")
        try:
            _real_upgrade_of(store)
        finally:
            store.dispose()
        _template = path
    return _template


def engine_template() -> Path:
    """`template` plus the durable engine's tables, as a worker's first launch leaves them,
    emptied of rows but the migration versions (built on first use: one launch and stop)."""
    global _engine_template, engine_tables
    if _engine_template is None:
        from stagent.workspace import Workspace

        home = Path(tempfile.mkdtemp(prefix="stagent-engine-template-"))
        asked, engine_tables = engine_tables, False
        try:
            workspace = Workspace.temporary(home).open()
            try:
                workspace.start_worker("worker")
                workspace.stop_worker()
            finally:
                workspace.close()
        finally:
            engine_tables = asked
        path = home / "stagent.sqlite"
        conn = sqlite3.connect(path)
        try:
            with conn:
                tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for (name,) in tables.fetchall():
                    if name not in KEPT_ROWS and name != "sqlite_stat1":
                        conn.execute(f'DELETE FROM "{name}"')
        finally:
            conn.close()
        _engine_template = path
    return _engine_template


def pg_template(admin_url: str) -> str:
    """The name of this process's PostgreSQL database at head (built on first use)."""
    global _pg_template
    if _pg_template is None:
        import psycopg

        from stagent.store.database import Store

        name = f"stagent_test_template_{secrets.token_hex(4)}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        _pg_template = name
        server = admin_url.split("://", 1)[1].rsplit("/", 1)[0]
        store = Store(f"postgresql+psycopg://{server}/{name}")
        try:
            _real_upgrade_of(store)
        finally:
            store.dispose()
    return _pg_template


def _real_upgrade_of(store: Any) -> None:
    store.check_connection()
    _real_upgrade(store.engine)


def discard(admin_url: str) -> None:
    """Remove this process's templates (at the session's end)."""
    global _template, _engine_template, _pg_template
    for path in (_template, _engine_template):
        if path is not None:
            shutil.rmtree(path.parent, ignore_errors=True)
    _template = _engine_template = None
    if _pg_template is not None:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{_pg_template}" WITH (FORCE)')
        _pg_template = None


def _upgrade_to_head(engine: Any) -> None:
    if enabled and engine.dialect.name == "sqlite" and _is_empty(engine):
        _copy_into(engine)
        return
    _real_upgrade(engine)


def _is_empty(engine: Any) -> bool:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar() == 0


def _copy_into(engine: Any) -> None:
    source = sqlite3.connect(engine_template() if engine_tables else template())
    try:
        with engine.connect() as conn:
            target: sqlite3.Connection = conn.connection.driver_connection
            source.backup(target)
    finally:
        source.close()


def install() -> None:
    """Route `upgrade_to_head` (called by `Store.upgrade`, hence `Workspace.open`) through the
    template for empty SQLite databases."""
    migrate.upgrade_to_head = _upgrade_to_head


def uninstall() -> None:
    """Restore the real `upgrade_to_head`."""
    migrate.upgrade_to_head = _real_upgrade
