"""runs as records, typed run options, events with subjects

Revision ID: 0006
Revises: 0012
Create Date: 2026-12-06 05:14:04.156871

Data: every task that ran gets one ``runs`` row per past run (a run starts at each ``status``
event into ``queued``); its events, approval cards, usage rows and inbox items are linked to the
run they happened in. ``tasks.runtime_config`` becomes ``tasks.options`` in the typed shape
(`stagent.domain.run_options.RunOptions`); the private ``_attempt``/``_home`` keys are dropped.
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERMINAL = ("completed", "failed", "cancelled")
PER_RUNTIME = {
    "scripted": ("scenario",),
    "claude": ("permission_mode", "gate", "tools", "mcp_servers", "resume_prompt", "max_retries"),
    "codex": ("sandbox", "provider"),
    "anthropic": ("max_tokens", "max_retries"),
}


def typed_options(runtime: str, config: dict[str, Any]) -> dict[str, Any]:
    """An old ``runtime_config`` in the typed shape (unknown and private keys dropped)."""
    out: dict[str, Any] = {}
    for key in ("model", "instructions", "tool_policy", "working_directory"):
        if config.get(key) not in (None, ""):
            out[key] = config[key]
    if config.get("allowed_tools"):
        out["allowed_tools"] = list(config["allowed_tools"])
    limits = {
        k: config[k]
        for k in ("max_turns", "max_budget_usd", "deadline_seconds")
        if config.get(k) not in (None, "")
    }
    if limits:
        out["limits"] = limits
    own = {k: config[k] for k in PER_RUNTIME.get(runtime, ()) if config.get(k) is not None}
    if own:
        out[runtime] = own
    return out


def _at(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_kind", sa.String(length=24), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("runtime", sa.String(length=40), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("waiting_on", sa.JSON(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("workflow_id", sa.String(length=120), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_runs_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_status", ["status"], unique=False)
        batch_op.create_index("ix_runs_task_id", ["task_id"], unique=False)
        batch_op.create_index(
            "uq_runs_subject_number", ["subject_kind", "subject_id", "number"], unique=True
        )

    with op.batch_alter_table("agent_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("subject_kind", sa.String(length=16), nullable=False, server_default="task")
        )
        batch_op.add_column(
            sa.Column("subject_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.alter_column("task_id", existing_type=sa.VARCHAR(length=32), nullable=True)
        batch_op.create_index("ix_agent_events_run_id", ["run_id"], unique=False)

    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_approval_requests_run_id", ["run_id"], unique=False)

    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("options", sa.JSON(), nullable=False, server_default="{}"))

    with op.batch_alter_table("usage_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_id", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_usage_ledger_run_id", ["run_id"], unique=False)

    _migrate_data(op.get_bind())

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("runtime_config")
        batch_op.alter_column("options", existing_type=sa.JSON(), server_default=None)
    with op.batch_alter_table("agent_events", schema=None) as batch_op:
        batch_op.alter_column("subject_kind", existing_type=sa.String(16), server_default=None)
        batch_op.alter_column("subject_id", existing_type=sa.String(64), server_default=None)


def _migrate_data(conn: sa.Connection) -> None:
    meta = sa.MetaData()
    tasks = sa.Table("tasks", meta, autoload_with=conn)
    events = sa.Table("agent_events", meta, autoload_with=conn)
    runs = sa.Table("runs", meta, autoload_with=conn)
    cards = sa.Table("approval_requests", meta, autoload_with=conn)
    ledger = sa.Table("usage_ledger", meta, autoload_with=conn)
    items = sa.Table("inbox_items", meta, autoload_with=conn)
    conn.execute(sa.update(events).values(subject_kind="task", subject_id=events.c.task_id))
    for task in conn.execute(sa.select(tasks)).mappings().all():
        config = dict(task["runtime_config"] or {})
        conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == task["id"])
            .values(options=typed_options(task["runtime"], config))
        )
        if not task["run_count"]:
            continue
        _task_runs(conn, task, config, events, runs)
    for table in (cards, ledger, items):
        _link(conn, table, runs)


def _task_runs(
    conn: sa.Connection, task: Any, config: dict[str, Any], events: sa.Table, runs: sa.Table
) -> None:
    """One run row per past run: a run starts at each status event into ``queued``."""
    rows = conn.execute(
        sa.select(events.c.seq, events.c.kind, events.c.payload, events.c.created_at)
        .where(events.c.task_id == task["id"])
        .order_by(events.c.seq)
    ).all()
    payloads: dict[int, dict[str, Any]] = {r.seq: dict(r.payload or {}) for r in rows}
    starts = [r for r in rows if r.kind == "status" and payloads[r.seq].get("to") == "queued"]
    count = int(task["run_count"])
    starts = starts[-count:]
    options = typed_options(task["runtime"], config)
    for index, start in enumerate(starts):
        number = count - len(starts) + index + 1
        end_seq = starts[index + 1].seq if index + 1 < len(starts) else None
        segment = [r for r in rows if r.seq >= start.seq and (end_seq is None or r.seq < end_seq)]
        status, started, ended, reason = "queued", None, None, None
        for row in segment:
            payload = payloads[row.seq]
            if row.kind == "status":
                status = str(payload.get("to"))
                if status == "running" and started is None:
                    started = row.created_at
                if status in TERMINAL:
                    ended, reason = row.created_at, str(payload.get("reason") or status)
        if status == "planned":  # moved back before it ran
            status, ended, reason = "cancelled", ended or segment[-1].created_at, "moved back"
        last = index == len(starts) - 1
        run_id = f"run_{secrets.token_hex(6)}"
        conn.execute(
            sa.insert(runs).values(
                id=run_id,
                subject_kind="task",
                subject_id=task["id"],
                task_id=task["id"],
                number=number,
                runtime=task["runtime"],
                options=options,
                status=status,
                attempt=int(config.get("_attempt", 1)) if last else 1,
                waiting_on=[],
                stop_reason=reason,
                result=task["result"] if last and status == "completed" else None,
                error=task["error"] if last and status == "failed" else None,
                cost_micros=0,
                workflow_id=task["workflow_id"] if last else None,
                created_at=_at(start.created_at),
                started_at=_at(started),
                ended_at=_at(ended),
            )
        )
        seqs = [r.seq for r in segment]
        conn.execute(sa.update(events).where(events.c.seq.in_(seqs)).values(run_id=run_id))


def _link(conn: sa.Connection, table: sa.Table, runs: sa.Table) -> None:
    """Give each row of a task the run of that task that was current when it was written."""
    when = table.c.started_at if "started_at" in table.c else table.c.created_at
    newest = (
        sa.select(runs.c.id)
        .where(runs.c.task_id == table.c.task_id, runs.c.created_at <= when)
        .order_by(runs.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    conn.execute(sa.update(table).where(table.c.task_id.is_not(None)).values(run_id=newest))
    if "cost_micros" in table.c:
        spent = (
            sa.select(sa.func.coalesce(sa.func.sum(table.c.cost_micros), 0))
            .where(table.c.run_id == runs.c.id, table.c.status.in_(("completed", "failed")))
            .scalar_subquery()
        )
        conn.execute(sa.update(runs).values(cost_micros=spent))


def downgrade() -> None:
    """Revert this revision (run records are dropped; options go back to one mapping)."""
    with op.batch_alter_table("usage_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_ledger_run_id")
        batch_op.drop_column("run_id")

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("runtime_config", sa.JSON(), nullable=False, server_default="{}")
        )
        batch_op.drop_column("options")

    with op.batch_alter_table("inbox_items", schema=None) as batch_op:
        batch_op.drop_column("run_id")

    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_run_id")
        batch_op.drop_column("run_id")

    op.execute("DELETE FROM agent_events WHERE task_id IS NULL")
    with op.batch_alter_table("agent_events", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_events_run_id")
        batch_op.alter_column("task_id", existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.drop_column("subject_id")
        batch_op.drop_column("subject_kind")
        batch_op.drop_column("run_id")

    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("uq_runs_subject_number")
        batch_op.drop_index("ix_runs_task_id")
        batch_op.drop_index("ix_runs_status")

    op.drop_table("runs")
