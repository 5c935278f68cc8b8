"""Tables of the cost ledger: one row per provider call, the importers' progress, and the
running totals that triggers keep (spend per budget scope, calls per hour)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from stagent.domain.ids import utcnow
from stagent.store.tables.base import Base, Timestamp


def _where(condition: str) -> dict[str, Any]:
    """A partial index's condition, on both databases."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


TASK_SUMS = (
    "task_id", "finished_at", "simulated", "status", "cost_source", "input_tokens",
    "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "cost_micros",
)  # fmt: skip
"""The columns of ``ix_usage_ledger_task_sums``: a task, then what its sums filter and add."""


class UsageLedgerRow(Base):
    """One provider call (or runtime result): raw tokens by category and what it cost."""

    __tablename__ = "usage_ledger"
    __table_args__ = (
        # Imported calls (most rows of a large ledger) have no task or run: not indexed.
        # A task's rows, covering what the Costs page's per-task sums read (migration 0027):
        # those sums never touch the table (``ledger_metrics.task_sums``).
        Index("ix_usage_ledger_task_sums", *TASK_SUMS, **_where("task_id IS NOT NULL")),
        # Rows with a note (a fallback price, an estimate, a reservation, a block): the few
        # whose cost is estimated, counted per task without reading the others (0027).
        Index("ix_usage_ledger_noted", "finished_at", **_where("note IS NOT NULL")),
        Index("ix_usage_ledger_run_id", "run_id", **_where("run_id IS NOT NULL")),
        Index("ix_usage_ledger_runtime_model", "runtime", "model"),
        # Rows by time: the part hours at a summary's edges, the last hour by minute, the audit
        # list's order (summaries read ``usage_rollup``; migration 0023).
        Index("ix_usage_ledger_finished_at", "finished_at"),
        # Budget sums of runs in windows off the quarter hour (others read ``spend_totals``),
        # index only; imported calls skip these (queries must say source = 'run' literally):
        Index(
            "ix_usage_ledger_overall_spend",
            "finished_at",
            "simulated",
            "source",
            "cost_micros",
            **_where("source = 'run'"),
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
    """``reported`` (by the runtime), ``computed`` (price table), ``estimated`` (price table over
    estimated tokens: a served call whose usage never came), ``unpriced``, ``none``; ``estimate``
    on a reservation."""
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
