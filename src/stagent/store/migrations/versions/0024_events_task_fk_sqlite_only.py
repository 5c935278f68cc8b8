"""events' task foreign key on SQLite only: PostgreSQL's hot path takes no lock on the task row

On PostgreSQL ``agent_events.task_id`` no longer references ``tasks``: every insert of a run's
batch (`stagent.store.run_writes`) ran the foreign-key check, a ``SELECT ... FOR KEY SHARE`` of
the task row -- one heap lock, its WAL record and a dirtied page per batch (pg_walinspect, one
writer: 9.1 -> 8.1 WAL records per event). Nothing is lost: a task row is never deleted (a
deleted task keeps its row and its log, `stagent.store.tasks.delete`), and a batch is written
only while its run's row, which references the task, is share-locked by the fence. Events
written through a ``Store.write`` transaction still pass ``feed_outbox``'s foreign key.

SQLite keeps the key (dropping it there means copying ``agent_events``; SQLite's check costs
an index probe and no lock). Going down deletes events that name no task (none can exist
through Stagent's own writes) and adds the key back (``ON DELETE CASCADE`` as before).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_agent_events_task_id_tasks"


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FOREIGN_KEY, "agent_events", type_="foreignkey")


def downgrade() -> None:
    """Revert this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DELETE FROM agent_events AS event WHERE event.task_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM tasks WHERE tasks.id = event.task_id)"
        )
        op.create_foreign_key(
            FOREIGN_KEY, "agent_events", "tasks", ["task_id"], ["id"], ondelete="CASCADE"
        )
