"""`ApprovalService`: the approval inbox. Cards are opened by the gate and closed by a person.

- **Open** (`open`): a tool call no rule decided becomes a pending card, or joins the identical
  pending card of the same task (one card per (task, tool, input) at a time; the task row is
  locked while looking, so concurrent identical requests cannot both create one). The card puts
  a hold on its run (`stagent.store.lifecycle.suspend`: ``running -> waiting``) and an
  ``approval`` event lands in the log.
- **Wait** (`wait`): the agent's permission callback sleeps on the store's change signal, which
  rings the moment any process commits (in-process at once; SQLite ``data_version`` and PostgreSQL
  LISTEN/NOTIFY across processes). Each ring costs one primary-key read. A card past its
  ``expires_at`` is closed as ``timed_out``; a card whose task ended is closed as ``cancelled``.
- **Close** (`allow`, `deny`, `answer`): one conditional update (a second decision is a
  `ConflictError`), a ``decision`` event in the task's log naming who decided, the saved rule for
  "always allow" in the same transaction, and the card's hold released (the run is ``running``
  again once nothing else holds it).
- **Expire** (`sweep`): overdue cards and cards whose task ended are closed by the worker, beside
  the reconcile loop -- never by a read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stagent.domain.approvals import (
    TASK_ENDED_BY,
    TIMED_OUT_BY,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    check_answers,
    fingerprint,
)
from stagent.domain.code_rules import require_acknowledgement
from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.domain.ids import utcnow
from stagent.domain.limits import checked_text
from stagent.domain.permissions import PermissionRule, Scope
from stagent.domain.tasks import TaskStatus
from stagent.governance.notices import NoticeService
from stagent.governance.rule_service import check_scope
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import lifecycle, waits
from stagent.store import rules as rule_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

ACTIVE = frozenset({TaskStatus.RUNNING.value, TaskStatus.WAITING.value})
COMMENT_MAX = 4000
"""The longest checkpoint comment (the same as a denial's message in the forms)."""
RECHECK_SECONDS = 5.0
"""A safety net only: waiters wake on the change signal; this bounds a missed wake-up."""


@dataclass(frozen=True, slots=True)
class ApprovalDraft:
    """A call to put in front of a person."""

    task_id: str
    runtime: str
    tool: str
    input: dict[str, Any]
    run_id: str | None = None
    kind: ApprovalKind = "permission"
    risk: str = "high"
    suggested_rule: str | None = None
    why_asked: str = ""
    project_id: str | None = None
    profile: str | None = None


def human_seconds(seconds: float) -> str:
    """``600`` -> ``10 min``, ``2.5`` -> ``2.5 s``."""
    if seconds >= 120 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


class ApprovalService:
    """Open, wait on, list and close approval cards."""

    def __init__(
        self,
        store: Store,
        *,
        timeout_seconds: float,
        recheck_seconds: float = RECHECK_SECONDS,
        contained: Callable[[], bool] | None = None,
    ) -> None:
        """``contained`` says whether agents run inside an OS sandbox here (default: yes);
        without one, "always allow" with a rule that lets an agent run code needs
        ``acknowledged=True``."""
        self._store = store
        self._contained = contained or (lambda: True)
        self.timeout_seconds = timeout_seconds
        self._recheck = recheck_seconds
        self.notices = NoticeService(store)
        """The inbox's other items: notices, marked read one by one."""

    # -- reading -------------------------------------------------------------------------------

    def get(self, approval_id: str) -> Approval:
        """One card."""
        with self._store.read() as session:
            return approval_repo.get(session, approval_id)

    def list_pending(self, *, task_id: str | None = None) -> list[Approval]:
        """Cards waiting for a person, oldest first. (Reading never writes: overdue cards are
        closed by the worker's `sweep`, or by the agent waiting on them.)"""
        with self._store.read() as session:
            return approval_repo.list_pending(session, task_id=task_id)

    def pending_count(self) -> int:
        """How many cards wait for a person (the nav badge)."""
        with self._store.read() as session:
            return approval_repo.pending_count(session)

    def inbox_count(self) -> int:
        """The nav badge: pending cards, unread notices and unanswered budget breach cards."""
        return self.pending_count() + self.notices.attention_count()

    def recent(self, *, limit: int = 20, task_id: str | None = None) -> list[Approval]:
        """Closed cards, most recent first."""
        with self._store.read() as session:
            return approval_repo.recent(session, limit=limit, task_id=task_id)

    # -- opening and waiting -------------------------------------------------------------------

    def open(self, draft: ApprovalDraft) -> tuple[Approval, bool]:
        """Create the card, or join the identical pending one; returns (card, joined)."""
        expires_at = utcnow() + timedelta(seconds=self.timeout_seconds)
        with self._store.write() as session:
            row = task_repo.get_row(session, draft.task_id, for_update=True)
            existing = approval_repo.find_pending(
                session, draft.task_id, fingerprint(draft.tool, draft.input)
            )
            if existing is not None:
                return existing, True
            card = approval_repo.create(
                session,
                task_id=draft.task_id,
                run_id=draft.run_id,
                project_id=draft.project_id,
                runtime=draft.runtime,
                profile=draft.profile,
                tool=draft.tool,
                tool_input=draft.input,
                kind=draft.kind,
                risk=draft.risk,
                suggested_rule=draft.suggested_rule,
                why_asked=draft.why_asked,
                expires_at=expires_at,
            )
            what = "a question" if card.kind == "question" else f"{card.tool} ({card.risk} risk)"
            event_repo.append(
                session,
                draft.task_id,
                "approval",
                run_id=draft.run_id,
                payload={
                    "message": f"waiting for a person: {what}; decide it in the Inbox",
                    "approval_id": card.id,
                    "tool": card.tool,
                    "kind": card.kind,
                    "risk": card.risk,
                    "suggested_rule": card.suggested_rule,
                    "why_asked": draft.why_asked,
                },
            )
            if draft.run_id is not None and row.status in ACTIVE:
                lifecycle.suspend(
                    session,
                    draft.run_id,
                    approval_repo.approval_hold(card.id),
                    reason=f"{what} needs a person",
                )
        return card, False

    async def request(self, draft: ApprovalDraft) -> Approval:
        """Open (or join) a card and wait until it is closed; returns the closed card."""
        card, _ = await asyncio.to_thread(self.open, draft)
        return await self.wait(card.id)

    async def wait(self, approval_id: str) -> Approval:
        """Sleep until the card is closed (decided, timed out, or its task ended)."""
        try:
            return await waits.until(self._store, lambda: self._probe(approval_id))
        except asyncio.CancelledError:
            self._abandon(approval_id)
            raise

    def _probe(self, approval_id: str) -> waits.Done[Approval] | waits.Pending:
        card, task_active = self._peek(approval_id)
        if not card.pending:
            return waits.Done(card)
        if not task_active:
            return waits.Done(self._close_quietly(approval_id, "cancelled"))
        if card.expires_at is None:  # a workflow checkpoint without a timeout
            return waits.Pending(self._recheck)
        remaining = (card.expires_at - utcnow()).total_seconds()
        if remaining <= 0:
            return waits.Done(self._close_quietly(approval_id, "timed_out"))
        return waits.Pending(min(remaining, self._recheck))

    def _peek(self, approval_id: str) -> tuple[Approval, bool]:
        with self._store.read() as session:
            card = approval_repo.get(session, approval_id)
            if card.task_id is None:
                return card, True
            try:
                status = TaskStatus(task_repo.get_row(session, card.task_id).status)
            except NotFoundError:
                return card, False
            return card, status.is_active

    def _abandon(self, approval_id: str) -> None:
        """The waiting run went away: close the card if its task ended too. (A card of a task
        still active stays: a re-run after a crash asks the same and joins it.)"""
        try:
            card, task_active = self._peek(approval_id)
            if card.pending and not task_active:
                self._close_quietly(approval_id, "cancelled")
        except Exception:  # never mask the cancellation itself
            return

    def _close_quietly(self, approval_id: str, status: ApprovalStatus) -> Approval:
        """Close as ``timed_out`` or ``cancelled``; if someone decided first, theirs stands."""
        card = self.get(approval_id)
        if status == "timed_out":
            seconds = self.timeout_seconds
            if card.kind == "checkpoint" and card.expires_at and card.created_at:
                # Both instants were taken a moment apart: 599.997 s is a 10-minute timeout.
                seconds = round((card.expires_at - card.created_at).total_seconds(), 1)
            waited = human_seconds(seconds)
            what = "workflow checkpoint" if card.kind == "checkpoint" else "permission request"
            by, message = (
                TIMED_OUT_BY,
                f"No one answered this {card.tool} {what} within {waited}; "
                "it timed out and was denied.",
            )
            line = f"{card.tool} request timed out after {waited}: denied"
        else:
            by, message = TASK_ENDED_BY, "The task ended before anyone answered."
            line = f"{card.tool} request cancelled: the task ended"
        try:
            with self._store.write() as session:
                return approval_repo.close_card(
                    session, card, status, by, {"behavior": "deny", "message": message}, line
                )
        except ConflictError:
            return self.get(approval_id)

    def sweep(self) -> int:
        """Close overdue cards and cards whose task ended, even with no waiter left (a dead
        worker); returns how many were closed."""
        now = utcnow()
        closed = 0
        with self._store.read() as session:
            pending = approval_repo.list_pending(session)
        for card in pending:
            if card.expires_at is not None and card.expires_at <= now:
                self._close_quietly(card.id, "timed_out")
                closed += 1
            elif not self._peek(card.id)[1]:
                self._close_quietly(card.id, "cancelled")
                closed += 1
        return closed

    # -- deciding ------------------------------------------------------------------------------

    def allow(
        self,
        approval_id: str,
        *,
        by: str,
        always: bool = False,
        scope: str | None = None,
        rule: str | None = None,
        comment: str = "",
        acknowledged: bool = False,
    ) -> Approval:
        """Allow the call once, or always: then the rule (the suggestion, or the person's edit
        of it) is validated and saved at ``scope`` with source ``approval:<id>``. Where agents
        run without a sandbox, a rule that lets the agent run code is saved only
        ``acknowledged`` (`UnsandboxedRuleError` otherwise; the card stays pending). A workflow
        checkpoint is approved once, optionally with a ``comment`` its step's prompt gets."""
        card = self.get(approval_id)
        if card.kind == "question":
            raise ValidationError(
                f"{approval_id} asks a question; answer it or deny it",
                hint=f"stagent answer {approval_id} TEXT...",
            )
        comment = comment.strip()
        if card.kind == "checkpoint":
            if always:
                raise ValidationError(
                    f"{approval_id} is a workflow checkpoint; it is approved once, with no rule",
                    hint="approve it without always",
                )
            checked_text("comment", comment, COMMENT_MAX)
        elif comment:
            raise ValidationError(
                f"{approval_id} is a tool call; a comment goes with a workflow checkpoint",
                hint="deny with a message to tell the agent something",
            )
        candidate = self._always_rule(card, scope, rule) if always else None
        if candidate is not None:
            require_acknowledgement([candidate], contained=self._contained(), ack=acknowledged)
        with self._store.write() as session:
            decision: dict[str, Any] = {"behavior": "allow", "always": always}
            line = f"{card.tool} allowed once by {by}"
            if card.kind == "checkpoint":
                decision["comment"] = comment
                line = f"checkpoint approved by {by}" + (
                    f" with a comment: {comment}" if comment else ""
                )
            if candidate is not None:
                saved = rule_repo.find_same(session, candidate) or rule_repo.add(session, candidate)
                decision |= {"rule": saved.text, "rule_id": saved.id, "scope": saved.scope}
                line = f"{card.tool} always allowed by {by}: saved {saved.label()}"
            return approval_repo.close_card(session, card, "allowed", by, decision, line)

    def deny(self, approval_id: str, *, by: str, message: str = "") -> Approval:
        """Deny the call; ``message`` is what the agent is told."""
        card = self.get(approval_id)
        message = message.strip()
        told = message or f"The person denied this {card.tool} call."
        if card.kind == "checkpoint":
            told = message or "The person rejected this step at its checkpoint."
        line = f"{card.tool} denied by {by}" + (f": {message}" if message else "")
        with self._store.write() as session:
            decision = {"behavior": "deny", "message": told, "person_message": message}
            return approval_repo.close_card(session, card, "denied", by, decision, line)

    def answer(self, approval_id: str, *, by: str, answers: dict[str, Any]) -> Approval:
        """Answer a question card; the answers go back to the agent as the tool's answer."""
        card = self.get(approval_id)
        if card.kind != "question":
            raise ValidationError(
                f"{approval_id} is a permission request, not a question",
                hint=f"stagent approve {approval_id} or stagent deny {approval_id}",
            )
        checked = check_answers(card.questions, answers)
        shown = "; ".join(f"{q} -> {a}" for q, a in checked.items())
        with self._store.write() as session:
            return approval_repo.close_card(
                session,
                card,
                "answered",
                by,
                {"behavior": "answer", "answers": checked},
                f"{card.tool} answered by {by}: {shown}",
            )

    def default_scope(self, card: Approval) -> Scope:
        """The scope "always allow" uses unless told: the project if the task has one."""
        return "project" if card.project_id else "task"

    def _always_rule(self, card: Approval, scope: str | None, text: str | None) -> PermissionRule:
        chosen = check_scope(scope) if scope else self.default_scope(card)
        rule_text = (text if text is not None else card.suggested_rule or "").strip()
        if not rule_text:
            raise ValidationError(
                f"there is no suggested rule for this {card.tool} call",
                hint="type the rule to save (--rule TEXT), or allow once",
            )
        refs: dict[Scope, str | None] = {
            "task": card.task_id,
            "project": card.project_id,
            "global": None,
        }
        if chosen != "global" and not refs[chosen]:
            raise ValidationError(
                f"this task has no {chosen}; save the rule for the task or globally",
                hint="choose scope task or global",
            )
        return PermissionRule.from_text(
            rule_text,
            "allow",
            scope=chosen,
            scope_ref=refs[chosen],
            source=f"approval:{card.id}",
        )
