"""Repository functions for approval requests (the inbox's cards).

A card is decided at most once: `decide` is one conditional ``UPDATE ... WHERE status =
'pending'``, so of two people (or a person and the timeout) racing, exactly one wins and the
other gets a `ConflictError` naming who won.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from stagent.domain.approvals import Approval, ApprovalKind, ApprovalStatus, fingerprint
from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import new_id, utcnow
from stagent.store import events as event_repo
from stagent.store import lifecycle, row_values
from stagent.store import tasks as task_repo
from stagent.store.tables import ApprovalRequestRow

PENDING = "pending"


def to_approval(row: ApprovalRequestRow) -> Approval:
    """Map a row to the domain value."""
    return row_values.approval_of(functools.partial(getattr, row))


def create(
    session: Session,
    *,
    task_id: str | None,
    run_id: str | None = None,
    project_id: str | None,
    runtime: str,
    profile: str | None,
    tool: str,
    tool_input: dict[str, Any],
    kind: ApprovalKind,
    risk: str,
    suggested_rule: str | None,
    why_asked: str,
    expires_at: datetime | None,
) -> Approval:
    """Insert a pending card."""
    row = ApprovalRequestRow(
        id=new_id("apr"),
        task_id=task_id,
        run_id=run_id,
        project_id=project_id,
        runtime=runtime,
        profile=profile,
        tool=tool,
        input=tool_input,
        fingerprint=fingerprint(tool, tool_input),
        kind=kind,
        risk=risk,
        suggested_rule=suggested_rule,
        status=PENDING,
        decision={"why_asked": why_asked},
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return to_approval(row)


def find_pending(session: Session, task_id: str, print_: str) -> Approval | None:
    """The pending card of ``task_id`` with fingerprint ``print_``, if there is one."""
    query = (
        select(ApprovalRequestRow)
        .where(
            ApprovalRequestRow.task_id == task_id,
            ApprovalRequestRow.fingerprint == print_,
            ApprovalRequestRow.status == PENDING,
        )
        .order_by(ApprovalRequestRow.created_at)
        .limit(1)
    )
    row = session.scalars(query).first()
    return to_approval(row) if row is not None else None


def for_run(session: Session, run_id: str, kind: ApprovalKind) -> Approval | None:
    """The newest card of ``kind`` a run opened (a recovered run finds its checkpoint card)."""
    query = (
        select(ApprovalRequestRow)
        .where(ApprovalRequestRow.run_id == run_id, ApprovalRequestRow.kind == kind)
        .order_by(ApprovalRequestRow.created_at.desc(), ApprovalRequestRow.id.desc())
        .limit(1)
    )
    row = session.scalars(query).first()
    return to_approval(row) if row is not None else None


def get(session: Session, approval_id: str) -> Approval:
    """One card by id, or `NotFoundError`."""
    row = session.get(ApprovalRequestRow, approval_id)
    if row is None:
        raise NotFoundError(
            f"no approval request with id {approval_id!r}",
            hint="list pending requests with `stagent inbox`",
        )
    return to_approval(row)


def decide(
    session: Session,
    approval_id: str,
    *,
    status: ApprovalStatus,
    decided_by: str,
    decision: dict[str, Any],
) -> Approval:
    """Close a pending card atomically; a card already closed is a `ConflictError`."""
    current = get(session, approval_id)
    merged = {**current.decision, **decision}
    result = session.execute(
        update(ApprovalRequestRow)
        .where(ApprovalRequestRow.id == approval_id, ApprovalRequestRow.status == PENDING)
        .values(status=status, decided_by=decided_by, decision=merged, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        session.expire_all()
        closed = get(session, approval_id)
        raise ConflictError(
            f"approval request {approval_id} was already {closed.status.replace('_', ' ')}"
            f" (by {closed.decided_by or 'someone else'})",
            hint="nothing was changed; see `stagent inbox` for what is still pending",
        )
    session.expire_all()
    return get(session, approval_id)


def list_pending(session: Session, *, task_id: str | None = None) -> list[Approval]:
    """Pending cards, oldest first."""
    query = (
        select(ApprovalRequestRow)
        .where(ApprovalRequestRow.status == PENDING)
        .order_by(ApprovalRequestRow.created_at, ApprovalRequestRow.id)
    )
    if task_id is not None:
        query = query.where(ApprovalRequestRow.task_id == task_id)
    return [to_approval(row) for row in session.scalars(query)]


def pending_count(session: Session, *, task_id: str | None = None) -> int:
    """How many cards wait for a person."""
    query = (
        select(func.count())
        .select_from(ApprovalRequestRow)
        .where(ApprovalRequestRow.status == PENDING)
    )
    if task_id is not None:
        query = query.where(ApprovalRequestRow.task_id == task_id)
    return int(session.scalar(query) or 0)


def recent(session: Session, *, limit: int = 20, task_id: str | None = None) -> list[Approval]:
    """Closed cards, most recently decided first."""
    query = (
        select(ApprovalRequestRow)
        .where(ApprovalRequestRow.status != PENDING)
        .order_by(ApprovalRequestRow.decided_at.desc(), ApprovalRequestRow.id)
        .limit(limit)
    )
    if task_id is not None:
        query = query.where(ApprovalRequestRow.task_id == task_id)
    return [to_approval(row) for row in session.scalars(query)]


def close_card(
    session: Session,
    card: Approval,
    status: ApprovalStatus,
    by: str,
    decision: dict[str, Any],
    line: str,
) -> Approval:
    """Decide a card, log the decision in its task's audit trail, and release the card's hold
    on its run (the run resumes once nothing else holds it) — all in the caller's transaction."""
    closed = decide(session, card.id, status=status, decided_by=by, decision=decision)
    if card.task_id is None:
        return closed
    try:
        task_repo.get_row(session, card.task_id, for_update=True)
    except NotFoundError:
        return closed
    payload: dict[str, Any] = {
        "message": line,
        "approval_id": card.id,
        "tool": card.tool,
        "status": status,
        "decided_by": by,
    }
    payload |= {k: v for k, v in decision.items() if k in ("rule", "rule_id", "scope")}
    event_repo.append(session, card.task_id, "decision", payload, run_id=card.run_id)
    if card.run_id is not None:
        lifecycle.release(
            session, card.run_id, approval_hold(card.id), reason=f"{card.tool}: {status}"
        )
    return closed


def approval_hold(approval_id: str) -> str:
    """The hold an approval card puts on its run while it is pending."""
    return f"approval:{approval_id}"
