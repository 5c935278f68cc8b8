"""``/api/v1/approvals``: the approval inbox. Reading is open; deciding needs the person.

Every decision endpoint depends on `require_owner`: a request without the person's token (an
agent's own HTTP client, say) gets 403 and the card stays pending. A card already decided is a 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from stagent.governance.owner import decided_by
from stagent.web.api.governance_models import AllowIn, AnswerIn, ApprovalOut, DenyIn
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.web.security import require_owner

router = api_router("/approvals", tags=["approvals"])
OwnerOnly = [Depends(require_owner)]
BY = decided_by("API", "owner token")


@router.get("", response_model=ListOut[ApprovalOut])
def list_approvals(
    ws: WorkspaceDep,
    status: Annotated[
        str, Query(pattern="^(pending|recent)$", description="pending cards, or recently closed")
    ] = "pending",
    task: Annotated[str | None, Query(description="only this task's cards")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ListOut[ApprovalOut]:
    """Pending cards (oldest first), or recently closed ones (newest first)."""
    if status == "recent":
        cards = ws.approvals.recent(limit=limit, task_id=task)
    else:
        cards = ws.approvals.list_pending(task_id=task)[:limit]
    return list_of([ApprovalOut.of(card) for card in cards])


@router.get("/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, ws: WorkspaceDep) -> ApprovalOut:
    """One card."""
    return ApprovalOut.of(ws.approvals.get(approval_id))


@router.post("/{approval_id}/allow", response_model=ApprovalOut, dependencies=OwnerOnly)
def allow(approval_id: str, body: AllowIn, ws: WorkspaceDep) -> ApprovalOut:
    """Allow once, or always (saves the suggested rule, or ``rule``, at ``scope``). A workflow
    checkpoint is approved once, with an optional ``comment`` its step's prompt gets."""
    card = ws.approvals.allow(
        approval_id,
        by=BY,
        always=body.always,
        scope=body.scope,
        rule=body.rule,
        comment=body.comment,
        acknowledged=body.acknowledge_risk,
    )
    return ApprovalOut.of(card)


@router.post("/{approval_id}/deny", response_model=ApprovalOut, dependencies=OwnerOnly)
def deny(approval_id: str, body: DenyIn, ws: WorkspaceDep) -> ApprovalOut:
    """Deny; ``message`` is what the agent is told."""
    return ApprovalOut.of(ws.approvals.deny(approval_id, by=BY, message=body.message))


@router.post("/{approval_id}/answer", response_model=ApprovalOut, dependencies=OwnerOnly)
def answer(approval_id: str, body: AnswerIn, ws: WorkspaceDep) -> ApprovalOut:
    """Answer a question card (question text -> answer)."""
    return ApprovalOut.of(ws.approvals.answer(approval_id, by=BY, answers=dict(body.answers)))
