"""Answers to the app-server's requests: approvals and questions go to the permission gate.

Every server request is answered, always: an unknown method gets a JSON-RPC error (an
unanswered request would block the turn forever), and anything the gate cannot decide is
declined, never accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable

from stagent.domain.events import RuntimeEvent, ToolRequestEvent, ToolResultEvent
from stagent.runtimes import _codex_mapping as mapping
from stagent.runtimes._codex_rpc import JsonDict, JsonRpcProcess, Message, ProcessGone, RpcError
from stagent.runtimes.base import PermissionDecision, PermissionGate, PermissionRequest

log = logging.getLogger("stagent.runtimes.codex")
CAPPED = "the run reached its spending cap"
CAP_CANCEL_GRACE_SECONDS = 2.0
"""How long a capped approval waits for the usage of the response that asked for the tool
before it is answered ``cancel``. The cancel ends the turn, and Codex loses the usage of a
response whose end (``response.completed``) it had not read by then; Codex 0.163 reports that
usage only after the tool is answered, so the wait normally runs out: it is the time Codex gets
to read the end of a response the provider has already sent. A response still unreported when
the turn ends is booked from estimated tokens (`CodexRun`, `_codex_mapping.estimated_usage`)."""


class ServerRequests:
    """Answers one run's server requests; remembers what the run needs to report them."""

    def __init__(
        self,
        task_id: str,
        gate: PermissionGate,
        emit: Callable[[RuntimeEvent], None],
        stop: Callable[[], None],
        booked: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._task_id = task_id
        self._booked = booked
        self._capped = asyncio.Event()
        self._gate = gate
        self._emit = emit
        self._stop = stop
        self._tasks: set[asyncio.Task[None]] = set()
        self.rpc: JsonRpcProcess | None = None
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self.items: dict[str, JsonDict] = {}
        """Tool items seen started, by id (a file approval names only the item)."""
        self._usage_reports = 0
        self._reported = asyncio.Event()
        self._reports_at_start: dict[str, int] = {}
        self.denials: dict[str, str] = {}
        """Why each denied call was denied, by request id."""
        self.waiting: dict[str, str] = {}
        """Decisions still open, by request id (named in a deadline's message)."""
        self.interrupted_by: str | None = None

    @property
    def capped(self) -> bool:
        """True once the run reached its spending cap: every decision is then ``cancel``."""
        return self._capped.is_set()

    def cap_reached(self) -> None:
        """Approve nothing more; decisions still waiting at the gate are answered ``cancel``."""
        self._capped.set()

    def tool_started(self, item_id: str, item: JsonDict) -> None:
        """Remember a started tool item and how many usage reports came before it."""
        self.items[item_id] = item
        self.item_started(item_id)

    def item_started(self, item_id: str) -> None:
        """A model response's item (a tool call, a message) started: the provider served it."""
        self._reports_at_start[item_id] = self._usage_reports

    def unreported_response(self) -> int | None:
        """The ordinal (1-based, in the run) of a model response whose items started after the
        last usage report: the provider served it, Codex has not reported its usage. None when
        every response seen was reported."""
        if self._usage_reports in self._reports_at_start.values():
            return self._usage_reports + 1
        return None

    def abandon_response(self) -> int | None:
        """Codex sends the response whose items started after the last usage report again (its
        stream broke): that response's ordinal, as `unreported_response` said; its items no
        longer count as unreported (the retry's items do)."""
        ordinal = self.unreported_response()
        if ordinal is not None:
            reports = self._usage_reports
            started = self._reports_at_start.items()
            self._reports_at_start = {item: n for item, n in started if n != reports}
        return ordinal

    def usage_reported(self) -> None:
        """A model response's usage was reported (wakes capped approvals waiting for it)."""
        self._usage_reports += 1
        self._reported.set()
        self._reported = asyncio.Event()

    async def _await_usage(self, item_id: str, tool: str) -> None:
        """Wait, at most `CAP_CANCEL_GRACE_SECONDS`, for the usage of the response that asked
        for ``item_id`` (a cancel answered before Codex has read that response's end loses it)."""
        before = self._reports_at_start.get(item_id)
        if before is None:
            return
        deadline = time.monotonic() + CAP_CANCEL_GRACE_SECONDS
        while self._usage_reports <= before:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.info(
                    "codex: task %s: cancelling %s at the spending cap; the usage of the response "
                    "that asked for it was not reported within %g s (booked as an estimate if "
                    "Codex had not read that response's end by now)",
                    self._task_id,
                    tool,
                    CAP_CANCEL_GRACE_SECONDS,
                )
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reported.wait(), remaining)

    def spawn(self, message: Message) -> None:
        """Answer ``message`` in its own task (a decision may take a person minutes)."""
        task = asyncio.create_task(self._answer(message), name=f"codex-answer-{message.method}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        """Stop waiting on every open decision (the run is ending)."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _answer(self, message: Message) -> None:
        rpc = self.rpc
        assert rpc is not None and message.id is not None
        params = message.params
        try:
            match message.method:
                case "item/commandExecution/requestApproval":
                    result = await self._approve_command(params)
                case "item/fileChange/requestApproval":
                    result = await self._approve_file(params)
                case "item/tool/requestUserInput":
                    result = await self._ask(params)
                case "currentTime/read":
                    result = {"currentTimeAt": int(time.time())}
                case "mcpServer/elicitation/request":
                    result = {"action": "decline"}
                case "execCommandApproval" | "applyPatchApproval":
                    result = {"decision": "denied"}
                case method:
                    log.warning("codex: declined an unsupported server request %s", method)
                    await rpc.fail(message.id, -32601, f"Stagent does not handle {method}")
                    return
            await rpc.respond(message.id, result)
        except ProcessGone:
            return
        except Exception:
            log.exception("codex: answering %s failed; declining", message.method)
            with contextlib.suppress(Exception):
                await rpc.fail(message.id, -32603, "Stagent could not decide; declined")

    async def _decide(
        self, tool: str, data: JsonDict, request_id: str, rule: str | None
    ) -> PermissionDecision:
        summary = json.dumps(data.get("command") or data.get("file_path") or data)[:200]
        self.waiting[request_id] = f"{tool} {summary}"
        request = PermissionRequest(
            task_id=self._task_id,
            runtime="codex",
            tool=tool,
            input=data,
            request_id=request_id,
            suggested_rule=rule,
        )
        try:
            if self._booked is not None:
                await self._booked()  # the usage reported before this call is checked first
            decision = await self._gate_unless_capped(request)
        except Exception:
            log.exception("codex: the permission gate failed for %s; declining", tool)
            decision = PermissionDecision(allowed=False, message="the permission check failed")
        finally:
            self.waiting.pop(request_id, None)
        if not decision.allowed:
            self.denials[request_id] = (
                decision.message or f"denied by {decision.decided_by or 'the gate'}"
            )
            if decision.message and not decision.interrupt:
                await self._tell_model(f"{tool} was denied: {decision.message}")
        if decision.interrupt:
            who = f" by {decision.decided_by}" if decision.decided_by else ""
            reason = f": {decision.message}" if decision.message else ""
            self.interrupted_by = f"the run was stopped{who} at {tool}{reason}"
        return decision

    async def _gate_unless_capped(self, request: PermissionRequest) -> PermissionDecision:
        """The gate's decision, or ``cancel`` once the run has reached its cap (even while the
        gate is still deciding: a person's answer would come too late to matter)."""
        capped = PermissionDecision(
            allowed=False, interrupt=True, message=CAPPED, decided_by="the budget"
        )
        if self.capped:
            await self._await_usage(request.request_id, request.tool)
            return capped
        deciding = asyncio.ensure_future(self._gate.decide(request))
        cap = asyncio.ensure_future(self._capped.wait())
        try:
            await asyncio.wait({deciding, cap}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cap.cancel()
        if deciding.done():
            return deciding.result()
        deciding.cancel()
        with contextlib.suppress(BaseException):
            await deciding
        await self._await_usage(request.request_id, request.tool)
        return capped

    async def _tell_model(self, text: str) -> None:
        """Tell the model why (a decline carries no message): steer it into the turn before
        answering, so it arrives with the tool's rejection in the next model request."""
        if self.rpc is None or self.turn_id is None:
            return
        params = {
            "threadId": self.thread_id,
            "expectedTurnId": self.turn_id,
            "input": [{"type": "text", "text": f"[Stagent] {text}"}],
        }
        try:
            await asyncio.wait_for(self.rpc.request("turn/steer", params), 5)
        except (RpcError, TimeoutError) as exc:
            log.info("codex: could not pass the denial message on: %s", exc)

    async def _approve_command(self, params: JsonDict) -> JsonDict:
        data, rule = mapping.command_permission(params)
        decision = await self._decide("Bash", data, mapping.request_id(params.get("itemId")), rule)
        return mapping.command_decision(decision)

    async def _approve_file(self, params: JsonDict) -> JsonDict:
        item_id = mapping.request_id(params.get("itemId"))
        item = self.items.get(item_id, {})
        tool, data = mapping.file_change_call(mapping.as_list(item.get("changes")))
        if params.get("reason"):
            data["description"] = str(params["reason"])
        rule = f"{tool}({data['file_path']})" if data.get("file_path") else None
        decision = await self._decide(tool, data, item_id, rule)
        return mapping.file_decision(decision)

    async def _ask(self, params: JsonDict) -> JsonDict:
        item_id = mapping.request_id(params.get("itemId"))
        data = mapping.questions_input(params)
        self._emit(ToolRequestEvent(tool="AskUserQuestion", input=data, request_id=item_id))
        decision = await self._decide("AskUserQuestion", data, item_id, None)
        response = mapping.answers_response(params, decision)
        if decision.allowed:
            output, failed = json.dumps(response["answers"]), False
        else:
            output, failed = f"denied: {self.denials.get(item_id, 'denied')}", True
        self._emit(
            ToolResultEvent(
                request_id=item_id, tool="AskUserQuestion", output=output, is_error=failed
            )
        )
        if decision.interrupt:
            self._stop()
        return response
