"""Tables of governance: saved permission rules, approval requests, budgets, budget windows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from stagent.domain.ids import utcnow
from stagent.store.tables.base import Base, Timestamp


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
