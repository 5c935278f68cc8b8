"""Helpers for migration tests: put a database at an older revision, go down, open it at head.

The ``engine`` fixture (tests/store/conftest.py) gives an engine on a database no migration has
touched, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from stagent.store.database import Store
from stagent.store.migrate import alembic_config, current_revision


def at(engine: sa.Engine, revision: str) -> dict[str, sa.Table]:
    """Migrate to ``revision`` and reflect its tables (the schema an older Stagent wrote)."""
    command.upgrade(alembic_config(engine), revision)
    meta = sa.MetaData()
    meta.reflect(engine)
    return dict(meta.tables)


def down_to(engine: sa.Engine, revision: str) -> set[str]:
    """Downgrade to ``revision``; the tables left."""
    command.downgrade(alembic_config(engine), revision)
    assert current_revision(engine) == revision
    return set(sa.inspect(engine).get_table_names())


def upgraded(engine: sa.Engine) -> Store:
    """Open the database as today's Stagent does: the store migrates it to head."""
    store = Store(engine.url.render_as_string(hide_password=False))
    store.upgrade()
    return store
