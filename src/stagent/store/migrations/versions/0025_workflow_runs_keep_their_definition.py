"""workflow runs keep their definition

``workflow_run_definitions`` holds one copy per run of a workflow (its id and run number) of the
definition the run started from: an edit of the workflow (``workflows.definition``) no longer
changes what an ended or paused run shows, nor what a retry or resume of it runs. Runs started
before this revision have no copy; they read the workflow's stored definition, as before.
Going down drops the copies (the stored definitions stay).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 16:29:46
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "workflow_run_definitions",
        sa.Column("workflow_id", sa.String(length=32), nullable=False),
        sa.Column("run_number", sa.Integer(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["workflows.id"],
            name=op.f("fk_workflow_run_definitions_workflow_id_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workflow_id", "run_number", name=op.f("pk_workflow_run_definitions")
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("workflow_run_definitions")
