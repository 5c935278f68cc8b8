"""workflow steps found by their task (a step's run looks up its checkpoint)

Revision ID: 0016
Revises: 0022
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_workflow_steps_task_id", "workflow_steps", ["task_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_workflow_steps_task_id", table_name="workflow_steps")
