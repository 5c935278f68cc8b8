"""Alembic environment. Only Stagent's own tables are managed here.

DBOS keeps its system tables in the same database (the same SQLite file, or the ``dbos`` schema on
PostgreSQL). ``include_object`` hides them, or autogenerate would propose dropping them.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine

from stagent.store.migrate import VERSION_TABLE
from stagent.store.tables import Base

target_metadata = Base.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Manage only tables that our metadata declares."""
    del obj, reflected, compare_to
    if type_ == "table":
        return name in target_metadata.tables
    return True


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement on this connection. SQLite ignores the pragma
    inside a transaction, so it goes to the driver connection before Alembic begins one."""
    if connection.in_transaction():
        connection.rollback()
    driver: Any = connection.connection.driver_connection
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def run_migrations_online() -> None:
    """Run migrations on the engine passed in by `stagent.store.migrate`.

    On SQLite a batch migration rebuilds a table ("move and copy": create, copy, drop, rename).
    With foreign keys enforced -- the store's engine turns them on for every connection -- the
    drop deletes every row that references the old table ``ON DELETE CASCADE``: rebuilding
    ``tasks`` emptied the event log and the runs. Enforcement is off while migrations run.
    """
    engine: Engine = context.config.attributes["engine"]
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                version_table=VERSION_TABLE,
                include_object=include_object,
                render_as_batch=sqlite,
                compare_type=True,
                # One transaction for every pending revision on SQLite too (Alembic commits
                # after each revision there by default): a process killed or a revision failing
                # half-way leaves the database at the revision it started from, which the
                # Stagent that wrote it can still open, as on PostgreSQL.
                transactional_ddl=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


run_migrations_online()
