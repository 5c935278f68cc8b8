"""The Inbox page and its actions: allow, always allow, deny, answer, mark a notice read.

Deciding needs the person (`require_owner`: the owner cookie from ``/?token=...``) on top of the
CSRF token every action carries. A decided card answers with an empty fragment (it vanishes);
other tabs lose it through the live stream.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from starlette.responses import Response

from stagent.governance.owner import decided_by
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner, require_owner
from stagent.web.ui import inbox_views
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.stream import Topics
from stagent.web.ui.templating import render

router = ui_router()
BY = decided_by("UI", "owner cookie")
OwnerOnly = [Depends(require_owner)]


@router.get("/inbox")
def inbox_page(request: Request, ws: WorkspaceDep) -> Response:
    """The Inbox: pending cards (live), recent decisions and notices."""
    after = ws.tasks.last_seq()
    owner = request_is_owner(request)
    return page(
        request,
        "pages/inbox.html",
        active="inbox",
        title="Inbox",
        topics=Topics(inbox=True),
        after=after,
        **inbox_views.inbox_context(ws, owner=owner),
    )


@router.get("/ui/inbox/cards")
def cards_fragment(request: Request, ws: WorkspaceDep) -> Response:
    """The pending cards (a reconnecting page re-fetches them, so none is ever missed)."""
    owner = request_is_owner(request)
    html = "".join(
        inbox_views.approval_card(ws, card, owner=owner) for card in ws.approvals.list_pending()
    )
    return fragment(html)


@router.get("/ui/inbox/badge")
def badge_fragment(ws: WorkspaceDep) -> Response:
    """The nav's pending count."""
    return fragment(inbox_views.inbox_badge(ws.approvals.inbox_count()))


@router.post("/ui/approvals/{approval_id}/allow", dependencies=OwnerOnly)
def allow(
    approval_id: str,
    ws: WorkspaceDep,
    always: Annotated[str, Form()] = "0",
    rule: Annotated[str, Form(max_length=1000)] = "",
    scope: Annotated[str, Form()] = "",
    comment: Annotated[str, Form(max_length=4000)] = "",
    acknowledge_risk: Annotated[bool, Form()] = False,
) -> Response:
    """Allow once, or always (saving the rule as edited, at the chosen scope); approve a
    workflow checkpoint, with the comment its step's prompt gets."""
    if always == "1":
        ws.approvals.allow(
            approval_id,
            by=BY,
            always=True,
            scope=scope or None,
            rule=rule,
            acknowledged=acknowledge_risk,
        )
    else:
        ws.approvals.allow(approval_id, by=BY, comment=comment)
    return fragment("")


@router.post("/ui/approvals/{approval_id}/deny", dependencies=OwnerOnly)
def deny(
    approval_id: str,
    ws: WorkspaceDep,
    message: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """Deny, with an optional message for the agent."""
    ws.approvals.deny(approval_id, by=BY, message=message)
    return fragment("")


@router.post("/ui/approvals/{approval_id}/answer", dependencies=OwnerOnly)
async def answer(approval_id: str, request: Request, ws: WorkspaceDep) -> Response:
    """Answer a question card: per question the chosen option(s) or the typed answer."""
    form = await request.form()
    answers: dict[str, Any] = {}
    for index, question in enumerate(form.getlist("question")):
        typed = str(form.get(f"other-{index}") or "").strip()
        picked = [str(value) for value in form.getlist(f"answer-{index}")]
        answers[str(question)] = typed or picked
    ws.approvals.answer(approval_id, by=BY, answers=answers)
    return fragment("")


@router.post("/ui/notices/{notice_id}/read")
def mark_read(notice_id: str, ws: WorkspaceDep) -> Response:
    """Mark a notice read."""
    notice = ws.approvals.notices.mark_read(notice_id)
    return fragment(render("fragments/notice.html", n=notice))
