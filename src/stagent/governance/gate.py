"""`GovernedGate`: the permission gate every run's tool calls go through.

For each call it loads the task (its project and working directory), the saved rules whose scope
covers it and the run's tool policy (`RunOptions.tool_policy`; profiles will set it), then
`stagent.governance.rules.evaluate` decides:

- ``AskUserQuestion`` always goes to a person, as a question card (answers come back in
  ``updated_input["answers"]``);
- a deny or allow verdict returns at once, ``decided_by`` naming the rule (``rule <id> `text```)
  or the policy (``profile <id> policy `text```);
- a call no rule decides that the workspace's default covers (`stagent.governance.defaults`:
  reads and searches inside the working directory, as in Claude Code) is allowed;
- anything else (an ``ask`` rule, or no rule) becomes an approval card with a risk level and the
  suggested "always allow" rule, and the agent waits for the decision (`ApprovalService`).

A task whose context cannot be loaded (deleted, malformed policy) is refused, never allowed.

Before any rule, a call whose input names the person's token file (``owner.token``) or contains
the token itself is denied: no rule or preset can let an agent fetch the credential that approves
its own requests. (Best effort against a shell that is otherwise allowed everything: real
isolation from a same-user agent needs an OS sandbox.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stagent.domain.approvals import Approval
from stagent.domain.errors import StagentError, ValidationError
from stagent.domain.permissions import MatchContext, PermissionRule, ToolPolicy, parse_rule
from stagent.domain.run_options import RunOptions
from stagent.domain.tasks import Task
from stagent.governance.approvals import ApprovalDraft, ApprovalService
from stagent.governance.defaults import DEFAULT_LABEL, PermissionDefaults
from stagent.governance.rules import (
    ASK_USER_QUESTION,
    RuleVerdict,
    evaluate,
    match_context,
    risk_level,
    suggest_rule,
)
from stagent.runtimes.base import PermissionDecision, PermissionRequest
from stagent.store import projects as project_repo
from stagent.store import rules as rule_repo
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

GATE_NAME = "the permission gate"
PROTECTION = "Stagent's self-approval protection"
TOKEN_FILE = "owner.token"


@dataclass(frozen=True, slots=True)
class CallContext:
    """What deciding one call of one task needs."""

    task: Task
    match: MatchContext
    rules: tuple[PermissionRule, ...]
    policy: ToolPolicy | None
    run_id: str | None = None


def tool_policy(options: RunOptions, profile: str | None) -> ToolPolicy | None:
    """The run's tool policy (None if it has none)."""
    policy = options.tool_policy
    if policy is None:
        return None
    return ToolPolicy(profile or "task", policy.auto_approve, policy.auto_deny)


def decision_for(card: Approval) -> PermissionDecision:
    """What the agent gets back once its card is closed."""
    by = card.decided_by or "a person"
    match card.status:
        case "allowed":
            return PermissionDecision(
                allowed=True, decided_by=by, always=bool(card.decision.get("always"))
            )
        case "answered":
            updated = {**card.input, "answers": card.answers}
            return PermissionDecision(allowed=True, decided_by=by, updated_input=updated)
        case "cancelled":
            message = card.message or "The task ended before anyone answered."
            return PermissionDecision(False, message=message, decided_by=by, interrupt=True)
        case _:
            message = card.message or f"{card.tool} was denied."
            return PermissionDecision(allowed=False, message=message, decided_by=by)


def _labels(verdict: RuleVerdict) -> str:
    return ", ".join(rule.label() for rule in verdict.rules) or verdict.reason


def _valid_allow(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return parse_rule(text, "allow").text
    except ValidationError:
        return None


class GovernedGate:
    """Rules and policy first; a person (through the inbox) for what they leave open."""

    def __init__(
        self,
        store: Store,
        approvals: ApprovalService,
        *,
        home: Path,
        owner_token: Callable[[], str] | None = None,
    ) -> None:
        self._store = store
        self._approvals = approvals
        self._home = home
        self._owner_token = owner_token
        self._defaults = PermissionDefaults(store)

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Decide one tool call (waiting for a person if no rule decides it)."""
        if self.touches_owner_token(request):
            return PermissionDecision(
                allowed=False,
                message="Agents may not read or use the person's token; this call was refused.",
                decided_by=PROTECTION,
            )
        try:
            ctx = await asyncio.to_thread(self.context, request.task_id, request.run_id)
        except StagentError as exc:
            return PermissionDecision(
                allowed=False,
                message=f"Stagent cannot check this call: {exc.message}",
                decided_by=GATE_NAME,
            )
        verdict = evaluate(request, ctx.rules, ctx.match, ctx.policy)
        if verdict.verdict == "undecided" and await asyncio.to_thread(
            self._defaults.allows, request, ctx.match
        ):
            return PermissionDecision(allowed=True, decided_by=DEFAULT_LABEL)
        if verdict.verdict == "allow":
            return PermissionDecision(allowed=True, decided_by=_labels(verdict))
        if verdict.verdict == "deny":
            label = _labels(verdict)
            return PermissionDecision(
                allowed=False, message=f"{request.tool} is denied by {label}.", decided_by=label
            )
        try:
            card = await self._approvals.request(self.draft(request, ctx, verdict))
        except StagentError as exc:  # the task vanished between loading it and asking
            return PermissionDecision(
                allowed=False,
                message=f"Stagent cannot ask about this call: {exc.message}",
                decided_by=GATE_NAME,
            )
        return decision_for(card)

    def touches_owner_token(self, request: PermissionRequest) -> bool:
        """True if the call's input names the token file or contains the token."""
        text = json.dumps(request.input, ensure_ascii=False, default=str)
        if TOKEN_FILE in text:
            return True
        token = self._owner_token() if self._owner_token is not None else ""
        return bool(token) and token in text

    def context(self, task_id: str, run_id: str | None = None) -> CallContext:
        """Load the task, its run, its working directory, its applicable rules and its policy."""
        with self._store.read() as session:
            task = task_repo.get(session, task_id)
            run = run_repo.get_row(session, run_id) if run_id else None
            run = run or run_repo.latest_row(session, task_id)
            options = run_repo.to_run(run).options if run is not None else task.options
            directory = options.working_directory
            if directory is None and task.project_id:
                directory = project_repo.get(session, task.project_id).working_directory
            rules = rule_repo.applicable(session, task.id, task.project_id)
        cwd = directory or str((self._home / "runs" / task.id / task.runtime / "work").resolve())
        match = match_context(
            cwd, project_root=directory, task_id=task.id, project_id=task.project_id
        )
        return CallContext(
            task,
            match,
            tuple(rules),
            tool_policy(options, task.profile),
            run.id if run is not None else None,
        )

    def draft(
        self, request: PermissionRequest, ctx: CallContext, verdict: RuleVerdict
    ) -> ApprovalDraft:
        """The card for a call the rules left open."""
        question = request.tool == ASK_USER_QUESTION
        suggestion = None
        if verdict.verdict == "undecided":  # under an ask rule, an allow rule would never apply
            suggestion = _valid_allow(
                suggest_rule(request.tool, request.input, cwd=ctx.match.cwd, home=ctx.match.home)
            ) or _valid_allow(request.suggested_rule)
        return ApprovalDraft(
            task_id=ctx.task.id,
            run_id=ctx.run_id,
            runtime=request.runtime,
            tool=request.tool,
            input=dict(request.input),
            kind="question" if question else "permission",
            risk=risk_level(request.tool, request.input),
            suggested_rule=suggestion,
            why_asked=verdict.reason,
            project_id=ctx.task.project_id,
            profile=ctx.task.profile,
        )
