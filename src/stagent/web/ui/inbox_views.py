"""What the Inbox shows, and the live events the ``inbox`` topic turns feed events into.

Cards render in two variants: with decision buttons (the person's tab, `owner`) and read-only.
Tool input is untrusted agent text: it is pretty-printed and always escaped by the templates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sse_starlette import ServerSentEvent

from stagent.domain.approvals import Approval
from stagent.domain.code_rules import UNSANDBOXED_WARNING
from stagent.domain.errors import NotFoundError
from stagent.domain.events import LoggedEvent
from stagent.governance.budgets_breach import card_json
from stagent.web.ui.templating import render
from stagent.web.ui.views import Lookup, lookup
from stagent.workspace import Workspace

FOLD_CHARS = 600
FOLD_LINES = 14
SUMMARY_KEYS = ("command", "file_path", "notebook_path", "path", "url", "pattern", "query")
INBOX_KINDS = frozenset({"approval", "decision", "notice"})


@dataclass(frozen=True, slots=True)
class CardView:
    """One card with what its template needs next to it."""

    card: Approval
    task_title: str
    project_name: str
    runtime_label: str
    input_text: str
    folded: bool
    summary: str
    default_scope: str
    unsandboxed: bool = False
    """Agents run without a sandbox here: "always" with a code-running rule needs the
    person's acknowledgement (the card shows the checkbox)."""
    unsandboxed_warning: str = UNSANDBOXED_WARNING

    @property
    def id(self) -> str:
        """The card's id."""
        return self.card.id


def pretty_input(tool_input: dict[str, Any]) -> str:
    """The tool input as indented JSON (non-ASCII kept readable)."""
    return json.dumps(tool_input, indent=2, ensure_ascii=False, default=str)


def input_summary(tool_input: dict[str, Any]) -> str:
    """The one field that says what the call does (a command, a path, a URL), if any."""
    for key in SUMMARY_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def card_view(ws: Workspace, card: Approval, lk: Lookup | None = None) -> CardView:
    """Build the view of one card."""
    lk = lk or lookup(ws)
    title = ""
    if card.task_id:
        try:
            title = ws.tasks.get(card.task_id).title
        except NotFoundError:
            title = "(deleted task)"
    text = pretty_input(card.input)
    return CardView(
        card=card,
        task_title=title,
        project_name=lk.project_name(card.project_id),
        runtime_label=lk.runtime_labels.get(card.runtime, card.runtime),
        input_text=text,
        folded=len(text) > FOLD_CHARS or text.count("\n") > FOLD_LINES,
        summary=input_summary(card.input),
        default_scope=ws.approvals.default_scope(card),
        unsandboxed=not ws.containment.status().available,
    )


def approval_card(ws: Workspace, card: Approval, *, owner: bool) -> str:
    """A pending card's fragment."""
    return render("fragments/approval_card.html", v=card_view(ws, card), owner=owner)


def decision_row(card: Approval) -> str:
    """One row of the recent decisions table."""
    return render("fragments/decision_row.html", card=card)


def inbox_badge(count: int) -> str:
    """The nav's pending count."""
    return render("fragments/inbox_badge.html", count=count)


def notices_context(ws: Workspace) -> dict[str, Any]:
    """The Inbox's budget breach cards and notices."""
    return {
        "notices": ws.approvals.notices.list(limit=50),
        "breaches": [card_json(card) for card in ws.budgets.breaches()],
    }


def inbox_notices(ws: Workspace, *, owner: bool) -> str:
    """The notices region of the Inbox (breach cards and notices)."""
    return render("fragments/inbox_notices.html", owner=owner, **notices_context(ws))


def inbox_context(ws: Workspace, *, owner: bool) -> dict[str, Any]:
    """The Inbox page: pending cards, recent decisions and notices."""
    lk = lookup(ws)
    return {
        "cards": [card_view(ws, card, lk) for card in ws.approvals.list_pending()],
        "recent": ws.approvals.recent(limit=20),
        "owner": owner,
        **notices_context(ws),
    }


def expires_in(expires_at: datetime | None, now: datetime) -> str:
    """``in 9 min`` / ``in 40 s`` / ``now``."""
    if expires_at is None:
        return ""
    seconds = int((expires_at - now).total_seconds())
    if seconds <= 0:
        return "now"
    return f"in {seconds // 60} min" if seconds >= 120 else f"in {seconds} s"


def inbox_events(ws: Workspace, batch: list[LoggedEvent], *, owner: bool) -> list[ServerSentEvent]:
    """The ``inbox`` topic's SSE events for one batch of feed events (ids: the batch's last
    seq; a page re-fetches its cards when the stream reopens, so none is ever missed)."""
    relevant = [e for e in batch if e.kind in INBOX_KINDS]
    if not relevant:
        return []
    out: list[ServerSentEvent] = []
    last = str(batch[-1].seq)
    if any(event.kind == "notice" for event in relevant):
        out.append(ServerSentEvent(inbox_notices(ws, owner=owner), event="inbox-notices", id=last))
    for event in relevant:
        approval_id = str(event.payload.get("approval_id", ""))
        if not approval_id:
            continue
        try:
            card = ws.approvals.get(approval_id)
        except NotFoundError:
            continue
        if event.kind == "approval" and card.pending:
            html = approval_card(ws, card, owner=owner)
            out.append(ServerSentEvent(html, event="approval-added", id=last))
        elif event.kind == "decision":
            gone = f'<template data-closed="{card.id}"></template>'
            out.append(ServerSentEvent(gone, event=f"approval-{card.id}", id=last))
            out.append(ServerSentEvent(decision_row(card), event="approval-decided", id=last))
    badge = inbox_badge(ws.approvals.inbox_count())
    out.append(ServerSentEvent(badge, event="inbox-badge", id=last))
    return out
