"""workflow steps made at run time (loop iterations, plan steps) and machine stop codes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stop_code", sa.String(length=32), nullable=True))
    with op.batch_alter_table("workflow_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=200), nullable=True))
        batch_op.alter_column(
            "step_key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=80),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("workflow_steps", schema=None) as batch_op:
        batch_op.alter_column(
            "step_key",
            existing_type=sa.String(length=80),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
        batch_op.drop_column("name")
    with op.batch_alter_table("workflows", schema=None) as batch_op:
        batch_op.drop_column("stop_code")
