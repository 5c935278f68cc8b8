"""How the `claude` runtime routes tool calls to the `PermissionGate`: each call seen, asked once.

Two SDK entry points see a tool call, in this order:

1. the **PreToolUse hook** fires for *every* call, including those Claude Code would run without
   asking (read-only Bash such as ``echo hi``, ``Read``/``Glob``/``Grep`` in the working
   directory, the profile's ``allowed_tools``, rules remembered after an "always allow");
2. **``can_use_tool``** fires only for calls that need permission.

The hook records each call as a `ToolRequestEvent` (delivered to the engine before the call can
run). It never asks the gate itself; the gate is asked only in ``can_use_tool``, so no call is
asked twice. What reaches ``can_use_tool`` depends on the run's ``gate`` option:

- ``"all"`` (default): the hook answers ``"ask"``, which sends *every* call through
  ``can_use_tool`` and so through the gate, where governance's deny rules apply to read-only
  calls too. Measured with the bundled CLI: such calls carry no rule suggestions (governance
  suggests its own), and the hook's ``"ask"`` overrides session rules, so "always allow" is
  remembered by governance's saved rules rather than by the CLI;
- ``"claude"``: the hook decides nothing; Claude Code runs what it considers safe without asking,
  and only the rest reaches the gate (with Claude Code's suggestions). Such calls are audited,
  not gated.

"Always allow" (``PermissionDecision.always``) also adds the suggested rule to the CLI *session*:
the CLI's own suggestions are re-targeted to ``session`` (by default it would write
``.claude/settings.local.json`` into the user's project), and a suggested mode change (Write
suggests ``acceptEdits``, which also lets file-writing Bash through) is replaced by a rule for that
tool alone. The rule shown to the person (``suggested_rule``) is the rule applied.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from claude_agent_sdk import (
    HookContext,
    HookInput,
    HookJSONOutput,
    HookMatcher,
    PermissionResult,
    PermissionResultAllow,
    PermissionResultDeny,
    PermissionUpdate,
    ToolPermissionContext,
)
from claude_agent_sdk.types import PermissionRuleValue

from stagent.domain.events import ToolRequestEvent
from stagent.runtimes.base import PermissionDecision, PermissionGate, PermissionRequest

log = logging.getLogger(__name__)

ASK_USER = "AskUserQuestion"
HOOK_TIMEOUT = 600.0
"""Seconds the CLI waits for the hook (it waits for the engine to record the call; the CLI's
default of 60 s, if ever hit under load, would let a call pass unrecorded and ungated)."""
_NO_BARE_RULE = frozenset({"Bash", ASK_USER})
"""Tools for which "always allow" without a specific suggestion would allow far too much."""
_RULE = re.compile(r"^(?P<tool>[^()]+?)(?:\((?P<content>.*)\))?$", re.DOTALL)

Emit = Callable[[ToolRequestEvent], Awaitable[None]]


def rule_text(rule: PermissionRuleValue) -> str:
    """A rule in Claude Code's syntax: ``Bash(npm test *)`` or a bare ``Write``."""
    return f"{rule.tool_name}({rule.rule_content})" if rule.rule_content else rule.tool_name


def suggested_rule(tool: str, suggestions: list[PermissionUpdate]) -> str | None:
    """The "always allow" rule to offer for a call: Claude Code's first suggestion, else the bare
    tool name (never for Bash or AskUserQuestion)."""
    for update in suggestions:
        if update.type == "addRules" and update.behavior == "allow" and update.rules:
            return rule_text(update.rules[0])
    return None if tool in _NO_BARE_RULE else tool


def session_updates(
    rule: str | None, suggestions: list[PermissionUpdate]
) -> list[PermissionUpdate]:
    """The permission updates an "always allow" applies: session-scoped rules, no mode changes."""
    updates = [
        replace(update, destination="session")
        for update in suggestions
        if update.type == "addDirectories"
        or (update.type == "addRules" and update.behavior == "allow")
    ]
    if rule and not any(update.type == "addRules" for update in updates):
        match = _RULE.match(rule)
        if match:
            content: str | None = match.group("content")
            value = PermissionRuleValue(str(match.group("tool")), content or None)
            updates.append(PermissionUpdate("addRules", [value], "allow", destination="session"))
    return updates


class ClaudePermissions:
    """The hook and the permission callback of one run."""

    def __init__(
        self, task_id: str, gate: PermissionGate, emit: Emit, *, gate_all: bool = True
    ) -> None:
        self._task_id = task_id
        self._gate_all = gate_all
        self._gate = gate
        self._emit = emit
        self.announced: set[str] = set()
        """Tool-use ids already reported as `ToolRequestEvent`s."""
        self.decisions: list[tuple[PermissionRequest, PermissionDecision]] = []
        """Every question asked of the gate in this run, with its answer."""

    def interruption(self) -> str | None:
        """Why the run was stopped, if a denial asked to stop it (``interrupt``)."""
        for request, decision in self.decisions:
            if not decision.allowed and decision.interrupt:
                who = decision.decided_by or "the permission gate"
                why = decision.message or "no reason given"
                return f"stopped when {who} denied {request.tool}: {why}"
        return None

    def hooks(self) -> dict[Any, list[HookMatcher]]:
        """The SDK ``hooks`` option: the PreToolUse observer for every tool."""
        matcher = HookMatcher(matcher=None, hooks=[self.pre_tool_use], timeout=HOOK_TIMEOUT)
        return {"PreToolUse": [matcher]}

    async def announce(self, tool: str, tool_input: dict[str, Any], tool_use_id: str) -> None:
        """Report a tool call once, waiting until the consumer has it."""
        if tool_use_id in self.announced:
            return
        self.announced.add(tool_use_id)
        await self._emit(ToolRequestEvent(tool=tool, input=tool_input, request_id=tool_use_id))

    async def pre_tool_use(
        self, hook_input: HookInput, tool_use_id: str | None, context: HookContext
    ) -> HookJSONOutput:
        """Record the call; with ``gate="all"`` send it on to ``can_use_tool``."""
        del context
        if hook_input["hook_event_name"] != "PreToolUse":
            return {}
        call_id = tool_use_id or hook_input["tool_use_id"]
        await self.announce(hook_input["tool_name"], hook_input["tool_input"], call_id)
        if not self._gate_all:
            return {}
        return {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "ask",
                "permissionDecisionReason": "Stagent's permission gate decides every tool call",
            }
        }

    async def can_use_tool(
        self, tool: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        """Ask the gate; turn its decision into the SDK's allow or deny."""
        call_id = context.tool_use_id or ""
        await self.announce(tool, tool_input, call_id)
        rule = suggested_rule(tool, context.suggestions)
        request = PermissionRequest(
            task_id=self._task_id,
            runtime="claude",
            tool=tool,
            input=tool_input,
            request_id=call_id,
            suggested_rule=rule,
        )
        try:
            decision = await self._gate.decide(request)
        except Exception as exc:
            log.exception("the permission gate failed on %s", tool)
            message = f"Stagent could not decide this tool call ({type(exc).__name__}); denied."
            return PermissionResultDeny(message=message)
        self.decisions.append((request, decision))
        return _result(decision, request, context.suggestions)


def _result(
    decision: PermissionDecision, request: PermissionRequest, suggestions: list[PermissionUpdate]
) -> PermissionResult:
    if not decision.allowed:
        message = decision.message or f"{request.tool} was denied"
        return PermissionResultDeny(message=message, interrupt=decision.interrupt)
    updated = {**request.input, **(decision.updated_input or {})}
    updates = None
    if decision.always and request.tool != ASK_USER:
        updates = session_updates(request.suggested_rule, suggestions) or None
    return PermissionResultAllow(updated_input=updated, updated_permissions=updates)
