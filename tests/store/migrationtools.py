"""Helpers for migration tests: put a database at an older revision, go down, open it at head.

The ``engine`` fixture (tests/store/conftest.py) gives an engine on a database no migration has
touched, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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


T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
"""When seeded rows were written, unless a test says otherwise."""

_DEFAULTS: dict[str, dict[str, Any]] = {
    "projects": {"description": "", "created_at": T0, "updated_at": T0},
    "tasks": {
        "description": "",
        "status": "planned",
        "runtime": "scripted",
        "priority": 0,
        "runtime_config": {},  # before 0006
        "options": {},  # from 0006 on
        "run_count": 0,
        "created_at": T0,
        "updated_at": T0,
    },
    "agent_events": {"kind": "note", "payload": {}, "created_at": T0},
    "inbox_items": {"kind": "message", "body": "", "payload": {}, "read": False, "created_at": T0},
    "usage_ledger": {
        "activity": "task_run",
        "runtime": "claude",
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_write_5m_tokens": 0,
        "cache_write_1h_tokens": 0,
        "cache_read_tokens": 0,
        "reasoning_tokens": 0,
        "cost_micros": 100,
        "cost_source": "computed",
        "status": "completed",
    },
    "workflows": {
        "pattern": "sequence",
        "status": "completed",
        "run_count": 1,
        "round": 1,
        "created_at": T0,
        "updated_at": T0,
    },
    "workflow_steps": {"run_number": 1, "position": 0, "status": "completed"},
    "schedules": {
        "status": "active",
        "target_kind": "prompt",
        "runtime": "scripted",
        "variables": {},
        "options": {},
        "timing_kind": "cron",
        "zone": "UTC",
        "overlap": "skip",
        "missed": "once",
        "firing_count": 0,
        "created_at": T0,
        "updated_at": T0,
    },
    "schedule_firings": {"manual": False, "created_at": T0},
}


def seed(conn: sa.Connection, table: sa.Table, *rows: dict[str, Any]) -> None:
    """Insert ``rows`` into ``table`` as the revision it was reflected at has it.

    Each row is the table's usual values (only the columns this revision has: a task's options
    are ``runtime_config`` before 0006 and ``options`` from it on), overridden by the row's own.
    An event names its task as its subject where the revision has subjects; a ledger row's
    ``at`` sets when the call started and finished. A column the revision lacks is an error."""
    columns = set(table.c.keys())
    for row in rows:
        values = {k: v for k, v in _DEFAULTS.get(table.name, {}).items() if k in columns}
        values.update(_derived(table.name, columns, dict(row)))
        conn.execute(sa.insert(table).values(values))


def _derived(name: str, columns: set[str], row: dict[str, Any]) -> dict[str, Any]:
    """The row with the values that follow from its others filled in."""
    if name == "agent_events" and "subject_kind" in columns:
        row.setdefault("subject_kind", "task")
        row.setdefault("subject_id", row["task_id"])
    if name == "usage_ledger":
        when = row.pop("at", T0)
        row.setdefault("started_at", when)
        row.setdefault("finished_at", when)
    return row
