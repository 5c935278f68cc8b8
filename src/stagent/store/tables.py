"""ORM tables. Column comments say what a user would want to know when querying the file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stagent.domain.ids import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, which Alembic's batch mode on SQLite needs."""

Timestamp = DateTime(timezone=True)
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with the naming convention and eager server defaults."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    __mapper_args__ = {"eager_defaults": True}


class ProjectRow(Base):
    """A project: a name, a description and the directory its agents work in."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    working_directory: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class TaskRow(Base):
    """A task and the state of its latest run."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status", "status"),
        Index("ix_tasks_project_id", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="planned")
    runtime: Mapped[str] = mapped_column(String(40), default="scripted")
    profile: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[int] = mapped_column(Integer, default=2)
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The task's run options (`stagent.domain.run_options.RunOptions`, without ``runtime``)."""
    workflow_id: Mapped[str | None] = mapped_column(String(80))
    session_id: Mapped[str | None] = mapped_column(String(120))
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """Set when a person deletes the task: it disappears everywhere, its log stays for audit."""


class RunRow(Base):
    """One execution of an agent: its subject, options, attempt, status, times and cost."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("uq_runs_subject_number", "subject_kind", "subject_id", "number", unique=True),
        Index("ix_runs_task_id", "task_id"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(24), default="task")
    """``task`` (``workflow_step`` and ``chat_turn`` are reserved; a schedule firing starts a task
    or a workflow run and links to it from ``schedule_firings``, it is not a run subject)."""
    subject_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    """The task this run belongs to (its subject, or the task a workflow step runs as)."""
    number: Mapped[int] = mapped_column(Integer, default=1)
    runtime: Mapped[str] = mapped_column(String(40))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The resolved run options this run used (without ``runtime``)."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Executions so far; the fencing token every write of the run checks."""
    waiting_on: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Holds of a suspended run (``approval:<id>``, ``budget:<id>``)."""
    stop_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    workflow_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)


class AgentEventRow(Base):
    """The append-only log of everything that happens, which doubles as the workspace's change
    feed (by ``seq``). Each event names its subject (a task, a run, a budget ...)."""

    __tablename__ = "agent_events"
    __table_args__ = (
        Index("ix_agent_events_task_id_seq", "task_id", "seq"),
        Index("ix_agent_events_run_id", "run_id"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16), default="task")
    """``task``, ``run``, ``approval``, ``budget``; later ``workflow``, ``schedule``, ``chat``."""
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class InboxItemRow(Base):
    """An inbox item (a notification): a question, an approval request or a notice for a person.

    Named ``inbox_items`` because DBOS, which shares the database, owns a ``notifications`` table.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (Index("ix_inbox_items_task_id", "task_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    responded_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class SettingRow(Base):
    """A workspace setting stored in the database (key/value, JSON value)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class ExecutorRow(Base):
    """A live worker process and its heartbeat; an expired lease means its runs are recovered."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class PermissionRuleRow(Base):
    """A saved permission rule in Claude Code's syntax, with an effect and a scope."""

    __tablename__ = "permission_rules"
    __table_args__ = (Index("ix_permission_rules_scope", "scope", "scope_ref"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule: Mapped[str] = mapped_column(String(1000))
    """The rule text, e.g. ``Bash(npm run test *)``."""
    effect: Mapped[str] = mapped_column(String(8))
    """``allow``, ``ask`` or ``deny``."""
    scope: Mapped[str] = mapped_column(String(8), default="global")
    """``task``, ``project`` or ``global``."""
    scope_ref: Mapped[str | None] = mapped_column(String(32))
    """The task or project id for a narrower scope."""
    source: Mapped[str] = mapped_column(String(200), default="user")
    """Who added it: ``user``, ``preset:<name>``, ``import:<path>``, ``approval:<id>``."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ApprovalRequestRow(Base):
    """A tool call no rule decided, waiting for (or answered by) a person."""

    __tablename__ = "approval_requests"
    __table_args__ = (
        Index("ix_approval_requests_status", "status"),
        Index("ix_approval_requests_task_fingerprint", "task_id", "fingerprint"),
        Index("ix_approval_requests_run_id", "run_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    """The run that asked (and through it the subject)."""
    project_id: Mapped[str | None] = mapped_column(String(32))
    runtime: Mapped[str] = mapped_column(String(40))
    profile: Mapped[str | None] = mapped_column(String(120))
    tool: Mapped[str] = mapped_column(String(200))
    input: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """A hash of (tool, input): identical concurrent requests of one task share one card."""
    kind: Mapped[str] = mapped_column(String(16), default="permission")
    """``permission`` (allow/deny) or ``question`` (AskUserQuestion: answers)."""
    risk: Mapped[str] = mapped_column(String(8), default="high")
    suggested_rule: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``allowed``, ``denied``, ``answered``, ``timed_out``, ``cancelled``."""
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What was decided: behavior, message, answers, always, scope, rule id."""
    decided_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)


SUMMARY_INDEX_COLUMNS = (
    "status", "finished_at", "simulated", "source", "runtime", "model", "project_id",
    "cost_source", "cost_micros", "input_tokens", "output_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "cache_read_tokens",
)  # fmt: skip


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, on both databases."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class UsageLedgerRow(Base):
    """One provider call (or runtime result): raw tokens by category and what it cost."""

    __tablename__ = "usage_ledger"
    __table_args__ = (
        # Imported calls (most rows of a large ledger) have no task or run: not indexed.
        Index("ix_usage_ledger_task_id", "task_id", **_where("task_id IS NOT NULL")),
        Index("ix_usage_ledger_run_id", "run_id", **_where("run_id IS NOT NULL")),
        Index("ix_usage_ledger_runtime_model", "runtime", "model"),
        # Window sums (budgets) scan only their scope's rows in the window, index only:
        # (only real calls of runs count: the simulated flag and the source are in the index too;
        # the scope indexes hold only rows of runs, so queries must say source = 'run' literally)
        Index(
            "ix_usage_ledger_finished_at_cost", "finished_at", "simulated", "source", "cost_micros"
        ),
        Index(
            "ix_usage_ledger_runtime_spend",
            "runtime",
            "finished_at",
            "simulated",
            "source",
            "cost_micros",
            **_where("source = 'run'"),
        ),
        Index(
            "ix_usage_ledger_project_spend",
            "project_id",
            "finished_at",
            "simulated",
            "source",
            "cost_micros",
            **_where("source = 'run'"),
        ),
        Index("ix_usage_ledger_status", "status"),
        Index("uq_usage_ledger_dedupe_key", "dedupe_key", unique=True),
        # Summaries and metrics: an index-only scan of the window's calls, whatever they are
        # grouped by (calls are rows with status completed, failed or cancelled).
        Index("ix_usage_ledger_summary", *SUMMARY_INDEX_COLUMNS),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    """The run that made the call (or holds the reservation)."""
    project_id: Mapped[str | None] = mapped_column(String(32))
    activity: Mapped[str] = mapped_column(String(32), default="task_run")
    """``task_run``, ``workflow_step``, ``scheduled_firing``, ``chat_turn``, ``import``..."""
    runtime: Mapped[str] = mapped_column(String(40))
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    """Cost in millionths of a US dollar (exact integer arithmetic)."""
    cost_source: Mapped[str] = mapped_column(String(16), default="computed")
    """``reported`` (by the runtime), ``computed`` (price table), ``unpriced``, ``none``."""
    pricing_version: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="completed")
    """``completed``, ``failed``, ``cancelled``, ``blocked``, ``reserved``, ``released``."""
    note: Mapped[str | None] = mapped_column(Text)
    """Why: the cap that blocked it, the estimate a reservation holds."""
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    source: Mapped[str] = mapped_column(String(24), default="run", server_default="run")
    """``run`` (a run Stagent launched), ``import:claude-code`` or ``import:codex``."""
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    """The provider call's identity (``claude-code:msg_...:req_...``, a live request id); one
    call is booked once. Null where the call has none."""
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """True for the scripted runtime (no model): never counted in budgets or real spend."""
    session_id: Mapped[str | None] = mapped_column(String(100))
    """The runtime's session (Claude Code session id, Codex thread id)."""
    project_path: Mapped[str | None] = mapped_column(String(1000))
    """The working directory the call ran in (attributes imported calls to a project)."""


class LedgerImportFileRow(Base):
    """How far the importers have read one log file (imports are incremental by byte offset)."""

    __tablename__ = "ledger_import_files"

    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    source: Mapped[str] = mapped_column(String(24))
    """``import:claude-code`` or ``import:codex``."""
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    """Bytes read (always at a line boundary)."""
    head: Mapped[str] = mapped_column(String(64), default="")
    """A hash of the file's first bytes: a replaced file starts over."""
    lines: Mapped[int] = mapped_column(Integer, default=0)
    """Lines read so far (for file:line in reports)."""
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What a resumed read needs (Codex: the session's cumulative totals and model)."""
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class BudgetRow(Base):
    """A spending cap for one scope: overall, a runtime, or a project."""

    __tablename__ = "budgets"
    __table_args__ = (Index("uq_budgets_scope", "scope", "scope_ref", unique=True),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    """``overall``, ``runtime`` or ``project``."""
    scope_ref: Mapped[str] = mapped_column(String(64), default="")
    """The runtime name or project id; empty for overall."""
    daily_cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    monthly_cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    warn_at: Mapped[float] = mapped_column(Float, default=0.8)
    on_breach: Mapped[str] = mapped_column(String(8), default="fail")
    """``fail`` (refuse the call) or ``pause`` (wait in the inbox for a person)."""
    run_cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    """The per-run cap (and reservation) for runs in this scope; default 2 USD."""
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class BudgetWindowRow(Base):
    """What happened to one budget in one window (a day or a month in the user's time zone):
    the warning already sent, extra allowance a person granted, open breach notices and cards."""

    __tablename__ = "budget_windows"
    __table_args__ = (
        Index("uq_budget_windows_key", "scope", "scope_ref", "period", "window_key", unique=True),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    scope_ref: Mapped[str] = mapped_column(String(64), default="")
    period: Mapped[str] = mapped_column(String(8))
    """``daily`` or ``monthly``."""
    window_key: Mapped[str] = mapped_column(String(16))
    """``2026-12-02`` for a day, ``2026-12`` for a month."""
    allowance_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    """Extra spend a person allowed in this window ("allow $X more")."""
    warned_cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    """The cap a threshold warning was sent for (one warning per window and cap)."""
    notice_id: Mapped[str | None] = mapped_column(String(32))
    """The inbox notice of a breach in this window (updated as more calls are blocked)."""
    notice_cap_micros: Mapped[int | None] = mapped_column(BigInteger)
    card_id: Mapped[str | None] = mapped_column(String(32))
    """The open ``budget_breach`` inbox card that paused work waits on."""
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class WorkflowRow(Base):
    """A workflow: its definition (the data the engine interprets) and where its latest run is."""

    __tablename__ = "workflows"
    __table_args__ = (Index("ix_workflows_status", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    pattern: Mapped[str] = mapped_column(String(24))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The validated `stagent.domain.workflows.WorkflowDefinition` as data."""
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    """``draft``, ``running``, ``paused``, ``completed``, ``failed`` or ``cancelled``."""
    stop_reason: Mapped[str | None] = mapped_column(Text)
    stop_code: Mapped[str | None] = mapped_column(String(32))
    """Why the run stopped, for machines (`stagent.domain.workflow_runs.StopCode`)."""
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    """Engine executions of the current run (a resume or a retry starts another)."""
    engine_id: Mapped[str | None] = mapped_column(String(120))
    """The durable engine's id of the execution now driving the run."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WorkflowStepRow(Base):
    """One step of one workflow run: the child task it runs as, its status and its output."""

    __tablename__ = "workflow_steps"
    __table_args__ = (
        Index("uq_workflow_steps_key", "workflow_id", "run_number", "step_key", unique=True),
        Index("ix_workflow_steps_task_id", "task_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    run_number: Mapped[int] = mapped_column(Integer)
    step_key: Mapped[str] = mapped_column(String(80))
    """The step's id in the definition, or ``<id>#<n>`` for a step made at run time from it
    (a loop iteration, a plan step)."""
    name: Mapped[str | None] = mapped_column(String(200))
    """A run-time step's name (None: the definition step's)."""
    position: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``waiting`` (at its checkpoint), ``running``, ``completed``, ``failed``,
    ``skipped`` (its condition was false) or ``blocked``."""
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ScheduleRow(Base):
    """A schedule: what it fires (a prompt with a runtime and profile, a workflow, or a
    blueprint with variables), when, and its limits."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_status_next_fire_at", "status", "next_fire_at"),
        Index("ix_schedules_project_id", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    """``active``, ``paused``, ``completed`` (a one-shot fired) or ``expired``."""
    target_kind: Mapped[str] = mapped_column(String(16), default="prompt")
    """``prompt``, ``workflow`` (``target_ref`` names it) or ``blueprint`` (``target_ref`` and
    ``variables``)."""
    prompt: Mapped[str | None] = mapped_column(Text)
    runtime: Mapped[str] = mapped_column(String(40), default="scripted")
    profile: Mapped[str | None] = mapped_column(String(120))
    target_ref: Mapped[str | None] = mapped_column(String(120))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timing_kind: Mapped[str] = mapped_column(String(16))
    """``cron``, ``interval`` or ``once``."""
    cron: Mapped[str | None] = mapped_column(String(120))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    anchor_at: Mapped[datetime | None] = mapped_column(Timestamp)
    once_at: Mapped[datetime | None] = mapped_column(Timestamp)
    zone: Mapped[str] = mapped_column(String(64), default="UTC")
    timing_source: Mapped[str] = mapped_column(String(200), default="")
    """What the person typed: ``every weekday at 9am``, ``15m``, a cron expression."""
    max_firings: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    overlap: Mapped[str] = mapped_column(String(8), default="skip")
    missed: Mapped[str] = mapped_column(String(8), default="once")
    firing_count: Mapped[int] = mapped_column(Integer, default=0)
    next_fire_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_fired_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class ScheduleFiringRow(Base):
    """One occurrence of a schedule and what became of it. The id is derived from the schedule
    and the occurrence time, so two processes can never record (or fire) one occurrence twice."""

    __tablename__ = "schedule_firings"
    __table_args__ = (
        Index("ix_schedule_firings_schedule_occurrence", "schedule_id", "occurrence_at"),
        Index("ix_schedule_firings_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    occurrence_at: Mapped[datetime] = mapped_column(Timestamp)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    """True for a person's "fire now"."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``waiting``, ``fired``, ``skipped``, ``blocked``, ``missed``, ``failed``."""
    reason: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"))
    """The workflow a workflow or blueprint firing ran (a blueprint firing makes a new one)."""
    workflow_run: Mapped[int | None] = mapped_column(Integer)
    """Which run of that workflow the firing started."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)


class EnvironmentScanRow(Base):
    """One environment scan: its score, counts, duration and the whole report.

    The report holds no secret values (the scanner redacts them before building it).
    """

    __tablename__ = "environment_scans"
    __table_args__ = (Index("ix_environment_scans_scanned_at", "scanned_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scanned_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    roots: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The folders scanned (projects were discovered under them)."""
    score: Mapped[int] = mapped_column(Integer)
    """Health score 0-100."""
    duration_ms: Mapped[float] = mapped_column(Float)
    artifact_count: Mapped[int] = mapped_column(Integer, default=0)
    project_count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    infos: Mapped[int] = mapped_column(Integer, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the artifacts and findings: equal fingerprints mean nothing changed."""
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The scan report as `stagent scan --json` prints it."""


class FeedOutboxRow(Base):
    """Events written by a running agent on PostgreSQL, waiting to enter the feed.

    Writers insert here without any shared lock; a short publishing transaction moves them into
    ``agent_events`` under the feed lock, so ``seq`` order is commit order (see
    `stagent.store.feed`). Empty on SQLite (one writer at a time needs no outbox).
    """

    __tablename__ = "feed_outbox"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16), default="task")
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class SpendTotalRow(Base):
    """Running spend per budget scope and time bucket: what budget admission sums instead of
    the ledger's rows, so its cost does not grow with the ledger.

    Kept exact by triggers on ``usage_ledger`` (migration 0018: insert, update of the cost, time
    or scope columns, delete), for the rows budgets count (source ``run``, not simulated). A
    bucket is ``floor(epoch / grain)`` of ``finished_at``: ``grain`` 900 (15 minutes, which
    every time zone's midnight falls on) and 86400 (UTC days). ``scope`` is ``overall`` (``ref``
    empty), ``runtime`` or ``project``. A SQLite migration that rebuilds ``usage_ledger``
    (batch "move and copy") drops its triggers: create them again in that migration.
    """

    __tablename__ = "spend_totals"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    ref: Mapped[str] = mapped_column(String(40), primary_key=True)
    grain: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    total_micros: Mapped[int] = mapped_column(BigInteger)


class UsageRollupRow(Base):
    """Calls summed per UTC hour and per UTC day and group: what summaries read instead of the
    ledger's rows, so their cost follows days, hours and groups, not calls.

    Kept exact by triggers on ``usage_ledger`` (migrations 0019, 0020; row triggers on SQLite,
    statement triggers on PostgreSQL) in the writing transaction, for call rows only (status
    ``completed``, ``failed``, ``cancelled``). ``grain`` is 3600 (an hour) or 86400 (a day),
    ``bucket`` is ``floor(epoch / grain)`` of ``finished_at``; a NULL model or project is
    ``''``. A row whose sums went back to zero (its calls were deleted or moved) may stay:
    readers skip groups without requests. A SQLite migration that rebuilds ``usage_ledger``
    drops the triggers: create them again there.
    """

    __tablename__ = "usage_rollup"
    __table_args__ = {"sqlite_with_rowid": False}

    grain: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    runtime: Mapped[str] = mapped_column(String(40), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(24), primary_key=True)
    simulated: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_5m_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_1h_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_micros: Mapped[int] = mapped_column(BigInteger)
    unpriced: Mapped[int] = mapped_column(BigInteger)


class UsageRollupDeferredRow(Base):
    """While this table has a row, SQLite's row triggers leave ``usage_rollup`` alone: a bulk
    insert holds one for its one statement and adds its rows to the rollup itself, grouped, in
    the same transaction (`stagent.store.ledger_imports`). Empty outside such a statement."""

    __tablename__ = "usage_rollup_deferred"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
