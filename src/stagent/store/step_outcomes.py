"""Why a workflow step's task did not complete (`why_failed`: cancelled, refused at a budget
cap, rejected at its checkpoint, or failed -- the only kind a retry policy retries), read in a
Session or on SQLite's bare driver, and the budget refusal a paused run shows."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from stagent.store import approvals as approval_repo
from stagent.store import ledger as ledger_repo
from stagent.store import runs as run_repo
from stagent.store.driver import PrebuiltRead
from stagent.store.hot import SqliteHotConnection
from stagent.store.ledger import BLOCKED
from stagent.store.tables import ApprovalRequestRow, RunRow, UsageLedgerRow


def budget_refusal(session: Session, task_id: str) -> str | None:
    """Why the latest run of a step's task was refused at a budget cap (its ``blocked`` ledger
    row's note), or None if it was not."""
    latest = session.scalar(
        select(RunRow.id).where(RunRow.task_id == task_id).order_by(RunRow.number.desc()).limit(1)
    )
    if latest is None:
        return None
    found = session.execute(
        select(UsageLedgerRow.id, UsageLedgerRow.note)
        .where(UsageLedgerRow.run_id == latest)
        .where(UsageLedgerRow.status == BLOCKED)
        .limit(1)
    ).first()
    return None if found is None else (found.note or "blocked by budget")


def why_failed(session: Session, task_id: str, number: int, status: str) -> str:
    """Why a step's task did not complete: ``cancelled``, ``budget`` (refused at a cap),
    ``rejected`` (at its checkpoint) or ``failed`` (the only one a retry policy retries)."""
    if status == "cancelled":
        return "cancelled"
    run = run_repo.find_row(session, task_id, number)
    if run is None:
        return "failed"
    if ledger_repo.blocked_note(session, run.id) is not None:
        return "budget"
    card = approval_repo.for_run(session, run.id, "checkpoint")
    if card is not None and card.status != "allowed":
        return "rejected"
    return "failed"


_WHY_FAILED = PrebuiltRead(
    select(  # pyright: ignore[reportArgumentType] (a Select of two labelled columns)
        select(UsageLedgerRow.id)
        .where(UsageLedgerRow.run_id == bindparam("run_id"), UsageLedgerRow.status == BLOCKED)
        .limit(1)
        .scalar_subquery()
        .label("blocked"),
        select(ApprovalRequestRow.status)
        .where(
            ApprovalRequestRow.run_id == bindparam("run_id"),
            ApprovalRequestRow.kind == "checkpoint",
        )
        .order_by(ApprovalRequestRow.created_at.desc(), ApprovalRequestRow.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("checkpoint"),
    )
)
"""`why_failed`'s two reads in one statement, sent to SQLite's driver."""


def why_failed_on_driver(hot: SqliteHotConnection, run_id: str, status: str) -> str:
    """`why_failed` for run ``run_id`` (its task's newest, which ended ``status``) on SQLite's
    bare driver connection, in its open transaction: one read (the run's end on the driver,
    `stagent.store.hot_end`)."""
    if status == "cancelled":
        return "cancelled"
    found = _WHY_FAILED.one_or_none_on_driver(hot.driver, hot.dialect, {"run_id": run_id})
    if found is not None and found["blocked"] is not None:
        return "budget"
    if found is not None and found["checkpoint"] not in (None, "allowed"):
        return "rejected"
    return "failed"
