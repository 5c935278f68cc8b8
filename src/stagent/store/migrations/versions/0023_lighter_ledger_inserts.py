"""lighter ledger inserts: no 14-column summary index; bulk inserts bypass the row triggers

Summaries read ``usage_rollup`` (0019, 0020); the ledger's rows are read only for the part
hours at a window's edges, the last hour by minute, per-task sums (which read the rows anyway)
and filters the rollup lacks. So ``ix_usage_ledger_summary`` (14 columns, 40 % of an import's
insert) goes; ``ix_usage_ledger_finished_at_cost`` becomes a plain time index (edges, the audit
list's order) and, for budget sums of windows off the quarter hour (the overall scope), an
index of run rows only, like the runtime and project spend indexes (0019): imported calls skip it.

SQLite: a bulk insert (`stagent.store.ledger_imports.insert_staged`) now drops the ledger's
insert triggers for its one ``INSERT ... SELECT`` and creates them again in the same
transaction, then adds its rows to ``usage_rollup`` and ``spend_totals`` in one grouped upsert
each (a row trigger costs a call per row even when its ``WHEN`` is false: ~20 % of the
insert). A crash rolls the drop back with the rows. ``usage_rollup_deferred`` (0020), which
only made the rollup's insert trigger skip rows, goes, and so does its check in that trigger.

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-06 22:00:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMMARY_COLUMNS = [
    "status", "finished_at", "simulated", "source", "runtime", "model", "project_id",
    "cost_source", "cost_micros", "input_tokens", "output_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "cache_read_tokens",
]  # fmt: skip
SPEND_COLUMNS = ["finished_at", "simulated", "source", "cost_micros"]
RUNS = sa.text("source = 'run'")


def _revision_0020() -> Any:
    """0020's module (its SQLite rollup triggers), loaded from beside this file."""
    path = Path(__file__).with_name("0020_usage_rollup_by_hour_and_by_day.py")
    spec = importlib.util.spec_from_file_location("stagent_migration_0020", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rollup_insert_trigger(deferrable: bool) -> None:
    """SQLite: 0020's rollup insert trigger, with (``deferrable``) or without its check of
    ``usage_rollup_deferred``."""
    found: str = _revision_0020()._sqlite_triggers()[0]  # pyright: ignore[reportPrivateUsage]
    if not deferrable:
        check = " AND NOT EXISTS (SELECT 1 FROM usage_rollup_deferred)"
        assert check in found
        found = found.replace(check, "")
    op.execute("DROP TRIGGER IF EXISTS usage_rollup_on_insert")
    op.execute(found)


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_usage_ledger_summary", table_name="usage_ledger")
    op.drop_index("ix_usage_ledger_finished_at_cost", table_name="usage_ledger")
    op.create_index("ix_usage_ledger_finished_at", "usage_ledger", ["finished_at"])
    op.create_index(
        "ix_usage_ledger_overall_spend",
        "usage_ledger",
        SPEND_COLUMNS,
        sqlite_where=RUNS,
        postgresql_where=RUNS,
    )
    if op.get_bind().dialect.name == "sqlite":
        _rollup_insert_trigger(deferrable=False)
    op.drop_table("usage_rollup_deferred")


def downgrade() -> None:
    """Revert this revision."""
    op.create_table(
        "usage_rollup_deferred",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollup_deferred")),
    )
    if op.get_bind().dialect.name == "sqlite":
        _rollup_insert_trigger(deferrable=True)
    op.drop_index("ix_usage_ledger_overall_spend", table_name="usage_ledger")
    op.drop_index("ix_usage_ledger_finished_at", table_name="usage_ledger")
    op.create_index("ix_usage_ledger_finished_at_cost", "usage_ledger", SPEND_COLUMNS)
    op.create_index("ix_usage_ledger_summary", "usage_ledger", SUMMARY_COLUMNS)
