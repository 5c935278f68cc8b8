"""The executor, one run at a time, in this process (no DBOS): what it writes, how a run ends
for every way a runtime can end or fail, cancels and time limits, the gate wrapper and the
budget guard's hooks. SQLite; the fenced writes are covered on both databases in
``test_run_ownership.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from enginetools import (
    PlayedRun,
    PlayRuntime,
    RecordingGate,
    RecordingGuard,
    asks_to_write,
    both,
    context,
    execute,
    queued_task,
    until,
)

from stagent.domain.errors import ValidationError
from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    SessionEvent,
    TextEvent,
    ToolRequestEvent,
    UsageEvent,
)
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.executor import execute_task_run
from stagent.store import lifecycle
from stagent.workspace import Workspace


def play(ws: Workspace, *events: RuntimeEvent) -> PlayRuntime:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        for event in events:
            yield event

    runtime = PlayRuntime(script)
    ws.runtimes.register(runtime)
    return runtime


def kinds(ws: Workspace, task_id: str) -> list[str]:
    return [e.kind for e in ws.tasks.events(task_id)]


def test_every_event_is_written_with_the_run_id_and_the_result_ends_the_run(
    ws: Workspace,
) -> None:
    play(
        ws,
        TextEvent("Hello, "),
        ToolRequestEvent("Read", {"file_path": "a"}, "r1"),
        UsageEvent("m", input_tokens=3, output_tokens=4),
        SessionEvent("sess-9"),  # pyright: ignore[reportArgumentType]
        TextEvent("world."),
        ResultEvent("Hello, world."),
        TextEvent("after the result: never written"),
    )
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "completed"

    (run,) = ws.tasks.runs(task.id)
    assert run.status is RunStatus.COMPLETED
    assert (run.attempt, run.result, run.error) == (1, "Hello, world.", None)
    events = ws.tasks.run_events(run.id)
    assert [e.kind for e in events] == [
        "status",
        "status",
        "text",
        "tool_request",
        "usage",
        "session",
        "text",
        "result",
        "status",
    ]
    assert {e.run_id for e in events} == {run.id}
    done = ws.tasks.get(task.id)
    assert (done.status, done.result, done.session_id) == (
        TaskStatus.COMPLETED,
        "Hello, world.",
        "sess-9",
    )
    assert done.started_at is not None and done.finished_at is not None


def test_a_runtime_error_ends_the_run_failed_with_its_message(ws: Workspace) -> None:
    play(ws, TextEvent("trying"), ErrorEvent("provider said 529: overloaded"))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "failed"
    (run,) = ws.tasks.runs(task.id)
    assert run.error == "provider said 529: overloaded"
    assert run.stop_reason == "provider said 529: overloaded"
    assert ws.tasks.get(task.id).error == "provider said 529: overloaded"
    assert kinds(ws, task.id)[-2:] == ["error", "status"]


def test_a_stream_that_ends_without_a_result_fails_saying_so(ws: Workspace) -> None:
    play(ws, TextEvent("and then nothing"))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "failed"
    assert ws.tasks.get(task.id).error == "the runtime ended without a result"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ConnectionResetError("peer went away"),
            "the runtime failed unexpectedly: ConnectionResetError: peer went away",
        ),
        (ValidationError("scenario step 3: unknown tool"), "scenario step 3: unknown tool"),
    ],
)
def test_a_stream_that_raises_fails_the_run_with_the_message(
    ws: Workspace, error: Exception, message: str
) -> None:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        yield TextEvent("about to break")
        raise error

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "failed"
    assert ws.tasks.get(task.id).error == message
    last = ws.tasks.events(task.id)[-2:]
    assert [e.kind for e in last] == ["text", "status"]  # what came before the crash is kept
    assert last[1].payload["reason"] == message


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ValidationError("claude: not logged in"), "claude: not logged in"),
        (
            FileNotFoundError("no such binary"),
            "the runtime failed unexpectedly: FileNotFoundError: no such binary",
        ),
    ],
)
def test_a_runtime_that_cannot_start_fails_the_run(
    ws: Workspace, error: Exception, message: str
) -> None:
    ws.runtimes.register(PlayRuntime(lambda run: _never(run), fail_start=error))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "failed"
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.error) == (RunStatus.FAILED, message)
    assert "text" not in kinds(ws, task.id)


async def _never(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
    await run.cancelled.wait()
    return
    yield TextEvent("unreachable")


def _waits_for_cancel(ws: Workspace) -> PlayRuntime:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        yield TextEvent("started")
        await asyncio.wait_for(run.cancelled.wait(), 30)
        yield TextEvent("after the cancel: never written")
        yield ResultEvent("never")

    runtime = PlayRuntime(script)
    ws.runtimes.register(runtime)
    return runtime


def test_a_cancel_is_noticed_and_stops_the_agent(ws: Workspace) -> None:
    runtime = _waits_for_cancel(ws)
    task = queued_task(ws)

    async def person_cancels() -> None:
        await until(lambda: "text" in kinds(ws, task.id))
        with ws.store.write() as session:
            lifecycle.cancel_task(session, task.id, reason="cancelled by a person")

    loop_start = asyncio.run  # one event loop for the run and the person
    status = loop_start(both(execute_task_run(context(ws), task.id, 1), person_cancels()))
    assert status == "cancelled"
    assert runtime.runs[0].cancelled.is_set()
    texts = [e.payload["text"] for e in ws.tasks.events(task.id) if e.kind == "text"]
    assert texts == ["started"]
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.stop_reason) == (RunStatus.CANCELLED, "cancelled by a person")
    assert ws.tasks.get(task.id).status is TaskStatus.CANCELLED


def test_a_run_taken_over_by_a_newer_attempt_stops_the_old_agent(ws: Workspace) -> None:
    runtime = _waits_for_cancel(ws)
    task = queued_task(ws)

    async def survivor_takes_over() -> None:
        await until(lambda: "text" in kinds(ws, task.id))
        with ws.store.write() as session:
            assert lifecycle.claim(session, task.id, 1) is not None  # attempt 2

    status = asyncio.run(both(execute_task_run(context(ws), task.id, 1), survivor_takes_over()))
    assert status == "running"  # the run is the survivor's now; this execution wrote no end
    assert runtime.runs[0].cancelled.is_set()
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.attempt) == (RunStatus.RUNNING, 2)
    assert "recovered" in kinds(ws, task.id)
    assert "result" not in kinds(ws, task.id)


def test_a_run_past_its_time_limit_is_stopped_and_fails(ws: Workspace) -> None:
    runtime = _waits_for_cancel(ws)
    task = queued_task(ws, limits={"deadline_seconds": 0.3})
    assert execute(context(ws), task.id) == "failed"
    assert runtime.runs[0].cancelled.is_set()
    assert runtime.runs[0].request.config["deadline_seconds"] == 0.3
    error = ws.tasks.get(task.id).error
    assert error == "timed out after 0.3 s (its time limit); the agent was stopped"


def test_an_ended_run_is_never_executed_again(ws: Workspace) -> None:
    runtime = play(ws, TextEvent("once"), ResultEvent("once"))
    task = queued_task(ws)
    ctx = context(ws)
    assert execute(ctx, task.id) == "completed"
    before = [e.seq for e in ws.tasks.events(task.id)]
    assert execute(ctx, task.id) == "completed"  # the workflow body re-run after a crash
    assert [e.seq for e in ws.tasks.events(task.id)] == before
    assert len(runtime.runs) == 1
    (run,) = ws.tasks.runs(task.id)
    assert run.attempt == 1


def test_a_cancelled_queued_run_is_not_started(ws: Workspace) -> None:
    runtime = play(ws, ResultEvent("never"))
    task = queued_task(ws)
    with ws.store.write() as session:
        lifecycle.cancel_task(session, task.id, reason="cancelled by a person")
    assert execute(context(ws), task.id) == "cancelled"
    assert runtime.runs == []


def test_the_gate_wrapper_names_the_run_and_logs_who_decided(ws: Workspace) -> None:
    decisions: list[bool] = []

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        decision = await run.ask("Write", file_path="notes.md")
        decisions.append(decision.allowed)
        yield ResultEvent("wrote")

    ws.runtimes.register(PlayRuntime(script))
    gate = RecordingGate(decided_by="rule 7 `Write`")
    task = queued_task(ws)
    assert execute(context(ws, gate=gate), task.id) == "completed"
    (run,) = ws.tasks.runs(task.id)
    (asked,) = gate.requests
    assert (asked.run_id, asked.task_id, asked.tool) == (run.id, task.id, "Write")
    assert decisions == [True]
    (note,) = [e for e in ws.tasks.events(task.id) if e.kind == "note"]
    assert note.run_id == run.id
    assert note.payload == {
        "message": "Write allowed by rule 7 `Write`",
        "tool": "Write",
        "allowed": True,
        "decided_by": "rule 7 `Write`",
    }


def test_an_approval_hold_suspends_the_run_until_a_person_allows(ws: Workspace) -> None:
    ws.runtimes.register(PlayRuntime(asks_to_write(file_path="notes.md", content="hi")))
    task = queued_task(ws)
    seen: dict[str, object] = {}

    async def person_approves() -> None:
        await until(lambda: bool(ws.approvals.list_pending(task_id=task.id)))
        (card,) = ws.approvals.list_pending(task_id=task.id)
        (run,) = ws.tasks.runs(task.id)
        seen.update(run_status=run.status, holds=run.waiting_on, card=card.id)
        seen["task_status"] = ws.tasks.get(task.id).status
        await asyncio.to_thread(ws.approvals.allow, card.id, by="person (via CLI)")

    status = asyncio.run(
        both(execute_task_run(context(ws, gate=ws.gate), task.id, 1), person_approves())
    )
    assert status == "completed"
    assert seen["run_status"] is RunStatus.WAITING
    assert seen["holds"] == (f"approval:{seen['card']}",)
    assert seen["task_status"] is TaskStatus.WAITING
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.waiting_on) == (RunStatus.COMPLETED, ())
    moves = [
        (e.payload["from"], e.payload["to"]) for e in ws.tasks.events(task.id) if e.kind == "status"
    ]
    assert moves == [
        ("planned", "queued"),
        ("queued", "running"),
        ("running", "waiting"),
        ("waiting", "running"),
        ("running", "completed"),
    ]
    texts = [e.payload["text"] for e in ws.tasks.events(task.id) if e.kind == "text"]
    assert texts == ["attempt 1: allowed=True"]


def test_the_guards_cap_reaches_the_runtime_and_it_hears_the_end(ws: Workspace) -> None:
    runtime = play(ws, UsageEvent("m", input_tokens=1), ResultEvent("ok"))
    guard = RecordingGuard(cap=Decimal("0.25"))
    task = queued_task(ws, limits={"max_budget_usd": "2"})
    assert execute(context(ws, guard=guard), task.id) == "completed"
    assert runtime.runs[0].request.max_budget_usd == 0.25
    assert [u.input_tokens for u in guard.usage] == [1]
    assert guard.ended == ["completed"]


def test_a_run_the_guard_refuses_fails_before_the_runtime_starts(ws: Workspace) -> None:
    runtime = play(ws, ResultEvent("never"))
    guard = RecordingGuard(refuse=ValidationError("the overall budget is spent ($5.00 of $5.00)"))
    task = queued_task(ws)
    assert execute(context(ws, guard=guard), task.id) == "failed"
    assert runtime.runs == []
    assert ws.tasks.get(task.id).error == "the overall budget is spent ($5.00 of $5.00)"
    assert guard.ended == ["failed"]


def test_a_run_at_its_cap_stops_calling_and_fails_unless_a_result_arrives(
    ws: Workspace,
) -> None:
    usage = UsageEvent("m", input_tokens=10)
    runtime = play(ws, usage, TextEvent("on its way"), usage, ErrorEvent("stopped"))
    guard = RecordingGuard(stop_after=1)
    task = queued_task(ws)
    assert execute(context(ws, guard=guard), task.id) == "failed"
    assert runtime.runs[0].calls_stopped
    assert ws.tasks.get(task.id).error == "stopped by budget: 1 calls"
    assert kinds(ws, task.id).count("usage") == 2  # what was on its way is recorded

    finished = play(ws, usage, ResultEvent("made it"))
    task = queued_task(ws)
    assert execute(context(ws, guard=RecordingGuard(stop_after=1)), task.id) == "completed"
    assert finished.runs[0].calls_stopped
    assert ws.tasks.get(task.id).result == "made it"


def test_the_request_carries_the_task_and_the_resolved_options(ws: Workspace) -> None:
    runtime = play(ws, ResultEvent("ok"))
    task = queued_task(
        ws,
        title="Title",
        description="Do the thing.",
        model="m-1",
        instructions="be brief",
        limits={"max_turns": 3},
    )
    assert execute(context(ws), task.id) == "completed"
    request = runtime.runs[0].request
    (run,) = ws.tasks.runs(task.id)
    assert request.prompt == "Title\n\nDo the thing."
    assert (request.model, request.instructions, request.max_turns) == ("m-1", "be brief", 3)
    assert (request.run_id, request.attempt, request.task_id) == (run.id, 1, task.id)
    assert request.stagent_home == str(ws.settings.home)
