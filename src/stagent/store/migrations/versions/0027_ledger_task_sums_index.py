"""the ledger's task index covers the per-task sums; noted rows indexed

``ix_usage_ledger_task_id`` (a task's rows) becomes ``ix_usage_ledger_task_sums``: the same
rows (``task_id IS NOT NULL``: imported calls stay out of it) with the columns the Costs page's
per-task sums filter and add, so they are read from the index alone. ``ix_usage_ledger_noted``
holds the rows with a note (``finished_at``; the few whose cost is an estimate or used a
fallback price, and the budget holds), so the estimated calls of a window are counted without
reading every row. Going down restores the one-column task index and drops the noted one.

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-07 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_SUMS = (
    "task_id", "finished_at", "simulated", "status", "cost_source", "input_tokens",
    "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "cost_micros",
)  # fmt: skip
TASKS = sa.text("task_id IS NOT NULL")
NOTED = sa.text("note IS NOT NULL")


def _create(name: str, columns: Sequence[str], where: sa.TextClause) -> None:
    op.create_index(name, "usage_ledger", list(columns), sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    """Apply this revision."""
    op.drop_index("ix_usage_ledger_task_id", table_name="usage_ledger")
    _create("ix_usage_ledger_task_sums", TASK_SUMS, TASKS)
    _create("ix_usage_ledger_noted", ("finished_at",), NOTED)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_usage_ledger_noted", table_name="usage_ledger")
    op.drop_index("ix_usage_ledger_task_sums", table_name="usage_ledger")
    _create("ix_usage_ledger_task_id", ("task_id",), TASKS)
