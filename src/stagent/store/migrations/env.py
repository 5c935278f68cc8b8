"""Alembic environment. Only Stagent's own tables are managed here.

DBOS keeps its system tables in the same database (the same SQLite file, or the ``dbos`` schema on
PostgreSQL). ``include_object`` hides them, or autogenerate would propose dropping them.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Engine

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


def run_migrations_online() -> None:
    """Run migrations on the engine passed in by `stagent.store.migrate`."""
    engine: Engine = context.config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            include_object=include_object,
            render_as_batch=engine.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
