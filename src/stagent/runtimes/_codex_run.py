"""One live Codex run: spawn ``codex app-server``, open or resume a thread, play one turn.

A driver task owns the child process and turns its notifications into `RuntimeEvent`s on a
queue; server requests (approvals, questions) are answered by their own tasks, so a person can
take their time while the turn's other events keep flowing. A per-run deadline interrupts the
turn whatever it waits on (an approval nobody answers, a provider that never replies).

Spending caps: Codex reports a model response's usage only after the response's tools ran, and
sends the next model request right after that report. So when the usage that reaches a run's
cap arrives, one more call is already on its way; interrupting the turn then would lose it
(Codex never reports an interrupted call). Instead every approval waits until the engine has
booked the usage reported before it (a delivery handshake on the event stream), and once the
engine calls `CodexRun.stop_calls` every approval is answered ``cancel``: Codex then reports the
usage of the response that asked for the tool and ends the turn without another call. A run
therefore stops after at most one call past the one that reached its cap, and both are booked.

A turn that does not complete (stopped at a cap, cancelled, interrupted, failed) can end before
Codex has read the end of a response the provider served (a late stream end past the capped
approval's grace, `_codex_requests.CAP_CANCEL_GRACE_SECONDS`): Codex never reports that call.
Once the turn is over (nothing more is reported for it) such a call is booked once, from
estimated tokens (`_codex_mapping.estimated_usage`; the ledger marks the row ``estimated``),
before the run's final event; its id names the turn and the response, so a repeat is not booked
twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    SessionEvent,
    TextEvent,
    UsageEvent,
)
from stagent.runtimes import _codex_mapping as mapping
from stagent.runtimes._codex_config import TaskDirs
from stagent.runtimes._codex_requests import ServerRequests
from stagent.runtimes._codex_rpc import (
    JsonDict,
    JsonRpcProcess,
    Message,
    ProcessGone,
    RpcError,
    stderr_summary,
)
from stagent.runtimes.base import AgentRun, PermissionGate

log = logging.getLogger("stagent.runtimes.codex")
T = TypeVar("T")
StopReason = Literal["cancel", "deadline", "interrupt"]
TEXT_FLUSH_CHARS = 2000
"""Agent text is sent per message item, or in pieces of about this size for long messages."""
RESUME_PROMPT = "The previous run of this task was interrupted. Continue where you left off."
OPT_OUT = ["account/rateLimits/updated", "remoteControl/status/changed", "turn/diff/updated"]
CAP_GRACE_SECONDS = 30.0
"""After `CodexRun.stop_calls`, how long the call already on its way may take to come back
before the turn is interrupted anyway."""
_Out = tuple[RuntimeEvent, "asyncio.Future[None] | None"] | None


@dataclass(frozen=True, slots=True)
class RunPlan:
    """Everything resolved before the child starts (no secrets except inside ``env``)."""

    task_id: str
    argv: list[str]
    env: dict[str, str] = field(repr=False)
    cwd: str
    dirs: TaskDirs
    prompt: str
    sandbox: str
    deadline_seconds: float
    model: str | None = None
    instructions: str | None = None
    resume_thread: str | None = None
    keep_state: bool = False
    client_version: str = "0"
    provider_url: str = ""
    secrets: tuple[str, ...] = field(default=(), repr=False)


class _StoppedError(Exception):
    """The run was asked to stop (cancel, deadline or a person's interrupt)."""


def _session_event(thread_id: str) -> RuntimeEvent:
    # SessionEvent is recorded by the executor but missing from the `RuntimeEvent` alias.
    event: Any = SessionEvent(session_id=thread_id)
    return event


class CodexRun(AgentRun):
    """One run of a task on ``codex app-server``."""

    def __init__(self, plan: RunPlan, gate: PermissionGate) -> None:
        self._plan = plan
        self._out: asyncio.Queue[_Out] = asyncio.Queue()
        self._unbooked: set[asyncio.Future[None]] = set()
        self._cap_timer: asyncio.TimerHandle | None = None
        self._stop = asyncio.Event()
        self._stop_reason: StopReason | None = None
        self._rpc: JsonRpcProcess | None = None
        self._deadline = time.monotonic() + plan.deadline_seconds
        self.thread_id: str | None = None
        self._turn_id: str | None = None
        self._model = plan.model or "codex"
        self._texts: dict[str, str] = {}
        self._open_texts: set[str] = set()
        """Agent messages started and not yet completed."""
        self._retried: list[str] = []
        """Request ids of calls Codex sent again after the provider had begun serving them."""
        self._sent: dict[str, int] = {}
        self._final_text = ""
        self._requests = ServerRequests(
            plan.task_id, gate, self._emit, lambda: self._request_stop("interrupt"), self._booked
        )
        self._last_error: JsonDict | None = None
        self._last_total: Any = None
        self._last_usage: UsageEvent | None = None
        self._turn_completed_ok = False
        self._initialized = False
        """Whether the app-server answered ``initialize`` (an exit before that is no hiccup: a
        binary or a configuration that cannot start fails every attempt the same way)."""
        self._driver = asyncio.create_task(self._drive(), name=f"codex-run-{plan.task_id}")

    @property
    def pid(self) -> int | None:
        """The app-server's process id once started."""
        return self._rpc.pid if self._rpc else None

    async def events(self) -> AsyncIterator[RuntimeEvent]:
        """Stream the run's events; ends after a result or an error (or silently on cancel).

        A consumer that stops listening early stops the run: nobody would answer it.
        """
        delivered: asyncio.Future[None] | None = None
        try:
            while (item := await self._out.get()) is not None:
                event, delivered = item
                yield event
                _settle(delivered)  # the consumer asked for more: it has processed ``event``
        finally:
            _settle(delivered)
            for waiting in list(self._unbooked):
                _settle(waiting)
            if not self._driver.done():
                self._request_stop("cancel")

    async def stop_calls(self) -> None:
        """The run reached its spending cap: approve nothing more. The call Codex already sent
        comes back, its tool is cancelled, its usage is reported and the turn ends; a turn that
        goes on regardless (a tool Codex runs without asking) is interrupted at its next usage
        report, or after `CAP_GRACE_SECONDS`."""
        if self._requests.capped:
            return
        self._requests.cap_reached()
        loop = asyncio.get_running_loop()
        self._cap_timer = loop.call_later(CAP_GRACE_SECONDS, self._request_stop, "interrupt")

    async def _booked(self) -> None:
        """Wait until every usage event emitted so far has been processed by the consumer (with
        the engine: booked in the ledger and checked against the run's cap)."""
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while self._unbooked and not stop.done():
                await asyncio.wait({*self._unbooked, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

    async def cancel(self) -> None:
        """Interrupt the turn, stop the app-server and wait until it is gone."""
        self._request_stop("cancel")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._driver), 15)

    async def wait_closed(self) -> None:
        """Wait until the run has ended and its process is gone."""
        with contextlib.suppress(Exception):
            await asyncio.shield(self._driver)

    def _request_stop(self, reason: StopReason) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stop.set()

    def _emit(self, event: RuntimeEvent) -> None:
        self._out.put_nowait((event, None))

    def _emit_tracked(self, event: RuntimeEvent) -> None:
        """Emit ``event`` and remember it until the consumer has processed it (`_booked`)."""
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unbooked.add(delivered)
        delivered.add_done_callback(self._unbooked.discard)
        self._out.put_nowait((event, delivered))

    # -- lifecycle ---------------------------------------------------------------------------

    async def _drive(self) -> None:
        final: RuntimeEvent | None = None
        keep_state = self._plan.keep_state
        try:
            final = await self._run()
        except _StoppedError:
            final = await self._stopped()
        except ProcessGone:
            if self._stop_reason == "cancel":
                pass
            elif not self._initialized:
                final = ErrorEvent(
                    message=self._redact(await self._exit_message(at_start=True)),
                    retryable=False,
                )
            else:
                final = ErrorEvent(message=self._redact(await self._exit_message()), retryable=True)
                keep_state = True  # the thread can be resumed by a later attempt
        except RpcError as exc:
            final = ErrorEvent(message=self._redact(f"codex app-server refused {exc}"))
        except OSError as exc:
            final = ErrorEvent(message=f"could not start codex app-server: {exc}")
        except Exception as exc:
            log.exception("codex run of task %s failed", self._plan.task_id)
            final = ErrorEvent(message=f"the codex adapter failed: {type(exc).__name__}: {exc}")
        finally:
            if self._cap_timer is not None:
                self._cap_timer.cancel()
            await self._shutdown()
            if not keep_state:
                self._plan.dirs.remove()
            self._flush_all()
            self._estimate_unreported()
            if final is not None:
                self._emit(final)
            self._out.put_nowait(None)

    async def _run(self) -> RuntimeEvent | None:
        plan = self._plan
        self._rpc = await JsonRpcProcess.spawn(plan.argv, plan.env, plan.cwd, plan.secrets)
        self._requests.rpc = self._rpc
        client = {"name": "stagent", "title": "Stagent", "version": plan.client_version}
        capabilities = {"experimentalApi": False, "optOutNotificationMethods": OPT_OUT}
        await self._call("initialize", {"clientInfo": client, "capabilities": capabilities})
        self._initialized = True
        await self._rpc.notify("initialized")
        resumed = await self._open_thread()
        assert self.thread_id is not None
        self._emit(_session_event(self.thread_id))
        text = RESUME_PROMPT if resumed else plan.prompt
        params = {"threadId": self.thread_id, "input": [{"type": "text", "text": text}]}
        result = await self._call("turn/start", params)
        self._turn_id = self._requests.turn_id = str(result["turn"]["id"])
        return await self._pump()

    async def _open_thread(self) -> bool:
        plan = self._plan
        params: JsonDict = {
            "cwd": plan.cwd,
            "approvalPolicy": "untrusted",  # every command and patch is asked
            "approvalsReviewer": "user",  # never an automatic reviewer
            "sandbox": plan.sandbox,
        }
        if plan.instructions:
            params["developerInstructions"] = plan.instructions
        if plan.model:
            params["model"] = plan.model
        result: JsonDict | None = None
        if plan.resume_thread:
            try:
                result = await self._call(
                    "thread/resume", {"threadId": plan.resume_thread, **params}
                )
            except RpcError as exc:
                log.warning(
                    "codex: cannot resume thread %s (%s); starting a new one",
                    plan.resume_thread,
                    exc,
                )
        resumed = result is not None
        opened: JsonDict = (
            result if result is not None else await self._call("thread/start", params)
        )
        self.thread_id = self._requests.thread_id = str(opened["thread"]["id"])
        self._model = str(opened.get("model") or self._model)
        return resumed

    async def _call(self, method: str, params: JsonDict) -> Any:
        assert self._rpc is not None
        return await self._guard(self._rpc.request(method, params))

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` unless the run is stopped or passes its deadline first."""
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self._stop.wait())
        remaining = max(0.0, self._deadline - time.monotonic())
        try:
            done, _ = await asyncio.wait(
                {task, stop}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop.cancel()
        if task in done:
            return task.result()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        if not done:
            self._request_stop("deadline")
        raise _StoppedError

    async def _pump(self) -> RuntimeEvent | None:
        assert self._rpc is not None
        while True:
            message = await self._guard(self._rpc.next_message())
            if message is None:
                raise ProcessGone("codex app-server exited")
            if message.is_request:
                self._requests.spawn(message)
                continue
            final = self._on_notification(message)
            if final is not None:
                return final

    async def _stopped(self) -> RuntimeEvent | None:
        """Interrupt the active turn, let it end (briefly), and say why the run stopped."""
        waiting = list(self._requests.waiting.values())
        rpc = self._rpc
        if rpc is not None and self._turn_id is not None and not rpc.exited:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    rpc.request(
                        "turn/interrupt", {"threadId": self.thread_id, "turnId": self._turn_id}
                    ),
                    2,
                )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain_until_completed(rpc), 3)
        match self._stop_reason:
            case "deadline":
                seconds = f"{self._plan.deadline_seconds:g}"
                if waiting:
                    what = "waiting for a decision on " + "; ".join(waiting)
                else:
                    what = "waiting for the agent and its model provider"
                return ErrorEvent(
                    message=f"the run passed its deadline of {seconds} s while {what}; "
                    "Stagent interrupted the Codex turn",
                    retryable=True,
                )
            case "interrupt":
                return ErrorEvent(message=self._requests.interrupted_by or "the run was stopped")
            case _:
                return None

    async def _drain_until_completed(self, rpc: JsonRpcProcess) -> None:
        while (message := await rpc.next_message()) is not None:
            if message.is_request and message.id is not None:
                await rpc.fail(message.id, -32000, "the run is stopping")
            elif message.method == "turn/completed":
                return
            else:
                self._on_notification(message)

    async def _shutdown(self) -> None:
        await self._requests.cancel_all()
        if self._rpc is not None:
            await self._rpc.close()

    async def _exit_message(self, *, at_start: bool = False) -> str:
        """Why the app-server is gone: its exit code and the tail of its stderr; ``at_start``
        (before it answered ``initialize``) says a retry would fail the same way."""
        assert self._rpc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._rpc.process.wait(), 2)
        await self._rpc.stderr_closed(2)
        code = self._rpc.process.returncode
        detail = stderr_summary(self._rpc.stderr_text())
        said = f": {detail}" if detail else ""
        if at_start:
            return (
                f"codex app-server exited before it started (exit code {code}){said}; "
                "a retry would fail the same way: `stagent doctor` checks the Codex binary "
                "and Stagent's configuration for it"
            )
        return f"codex app-server exited unexpectedly (exit code {code}){said}"

    def _redact(self, text: str) -> str:
        for secret in self._plan.secrets:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    # -- notifications -----------------------------------------------------------------------

    def _on_notification(self, message: Message) -> RuntimeEvent | None:
        params = message.params
        match message.method:
            case "item/started":
                self._item_started(mapping.as_dict(params.get("item")))
            case "item/agentMessage/delta":
                item_id = str(params.get("itemId"))
                self._texts[item_id] = self._texts.get(item_id, "") + str(params.get("delta", ""))
                if len(self._texts[item_id]) - self._sent.get(item_id, 0) >= TEXT_FLUSH_CHARS:
                    self._flush(item_id)
            case "item/completed":
                self._item_completed(mapping.as_dict(params.get("item")))
            case "thread/tokenUsage/updated":
                self._usage(params)
            case "error":
                if not params.get("willRetry"):
                    self._last_error = mapping.as_dict(params.get("error"))
                else:
                    log.info(
                        "codex: %s (retrying)", mapping.as_dict(params.get("error")).get("message")
                    )
                    self._response_retried()
            case "turn/completed":
                turn = mapping.as_dict(params.get("turn"))
                if str(turn.get("id")) == self._turn_id:
                    return self._turn_completed(turn)
            case method:
                log.debug("codex: notification %s", method)
        return None

    def _response_retried(self) -> None:
        """Codex sends a call again: if the provider had begun serving it (its items started),
        that call is booked once the retry reports (`_book_retried`), and its unfinished text,
        which the retry streams again, is not shown twice."""
        ordinal = self._requests.abandon_response()
        if ordinal is None or self._turn_id is None:
            return
        number = len(self._retried) + 1
        self._retried.append(f"codex:{self.thread_id}:{self._turn_id}:retried:{ordinal}.{number}")
        for item_id in self._open_texts:
            self._texts[item_id] = self._texts[item_id][: self._sent.get(item_id, 0)]
        self._open_texts.clear()

    def _book_retried(self, make: Callable[[str], UsageEvent]) -> None:
        for call in self._retried:
            self._emit_tracked(make(call))
        self._retried.clear()

    def _item_started(self, item: JsonDict) -> None:
        item_id = str(item.get("id"))
        if item.get("type") == "agentMessage":
            self._texts.setdefault(item_id, "")
            self._open_texts.add(item_id)
            self._requests.item_started(item_id)
            return
        event = mapping.tool_request(item)
        if event is not None:
            self._requests.tool_started(item_id, item)
            self._emit(event)

    def _item_completed(self, item: JsonDict) -> None:
        item_id = str(item.get("id"))
        if item.get("type") == "agentMessage":
            self._open_texts.discard(item_id)
            self._texts[item_id] = str(item.get("text") or self._texts.get(item_id, ""))
            self._flush(item_id)
            self._final_text = self._texts[item_id]
            return
        event = mapping.tool_result(item, self._requests.denials.get(item_id))
        if event is not None:
            self._emit(event)

    def _flush(self, item_id: str) -> None:
        text = self._texts.get(item_id, "")
        sent = self._sent.get(item_id, 0)
        if len(text) > sent:
            self._emit(TextEvent(text=text[sent:]))
            self._sent[item_id] = len(text)

    def _flush_all(self) -> None:
        for item_id in list(self._texts):
            self._flush(item_id)

    def _usage(self, params: JsonDict) -> None:
        if str(params.get("turnId")) != self._turn_id:
            return
        total = mapping.as_dict(params.get("tokenUsage")).get("total")
        if total is not None and total == self._last_total:
            return  # a repeat of numbers already counted
        self._last_total = total
        call = mapping.call_id(self.thread_id, self._turn_id, total)
        self._last_usage = last = mapping.usage_event(params, self._model, request_id=call)
        self._emit_tracked(last)
        self._book_retried(lambda retried: mapping.retried_usage(last, retried))
        self._requests.usage_reported()
        if self._requests.capped and not self._requests.waiting:
            # The call on its way when the cap was reached is reported: if the turn still goes
            # on (a tool Codex ran without asking), stop it before it asks for more. An approval
            # still open is about to be answered ``cancel``, which ends the turn by itself.
            self._request_stop("interrupt")

    def _estimate_unreported(self) -> None:
        """Book a served call Codex never reported, once the turn is over (see the module's
        docstring). A turn that completed reported every call before its end."""
        last, model = self._last_usage, self._model
        self._book_retried(lambda call: mapping.estimated_usage(last, model, call))
        ordinal = self._requests.unreported_response()
        if self._turn_completed_ok or ordinal is None or self._turn_id is None:
            return
        call = f"codex:{self.thread_id}:{self._turn_id}:estimated:{ordinal}"
        usage = mapping.estimated_usage(self._last_usage, self._model, call)
        log.warning(
            "codex: task %s: model response %d of the run was served but never reported; booking "
            "an estimate (%d input, %d output tokens)",
            self._plan.task_id,
            ordinal,
            usage.input_tokens,
            usage.output_tokens,
        )
        self._emit(usage)

    def _turn_completed(self, turn: JsonDict) -> RuntimeEvent:
        self._flush_all()
        status = turn.get("status")
        if status == "completed":
            self._turn_completed_ok = True
            return ResultEvent(text=self._final_text)
        if status == "interrupted":
            return ErrorEvent(
                message=self._requests.interrupted_by or "the Codex turn was interrupted"
            )
        error = mapping.as_dict(turn.get("error")) or self._last_error or {}
        message, retryable = mapping.error_message(error, self._plan.provider_url)
        return ErrorEvent(message=self._redact(message), retryable=retryable)


def _settle(delivered: asyncio.Future[None] | None) -> None:
    if delivered is not None and not delivered.done():
        delivered.set_result(None)
