"""The multiplexed SSE stream: named events with ids, resume after Last-Event-ID."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import httpx
import pytest
from sse_starlette import ServerSentEvent

from stagent.domain.errors import ValidationError
from stagent.engine.services import TaskDraft
from stagent.web.ui import fragments
from stagent.web.ui.stream import Topics, live_events, resume_point, stream_url
from stagent.workspace import Workspace

QUICK = {"steps": [{"text": "one"}, {"text": "two"}], "result": "all done"}


async def take(stream: AsyncIterator[ServerSentEvent], count: int) -> list[ServerSentEvent]:
    """The next ``count`` events (failing after 60 s)."""
    async with asyncio.timeout(60):
        return [await anext(stream) for _ in range(count)]


async def take_until(
    stream: AsyncIterator[ServerSentEvent], name: str, text: str
) -> list[ServerSentEvent]:
    """Events up to and including the first ``name`` event whose data contains ``text``."""
    seen: list[ServerSentEvent] = []
    async with asyncio.timeout(60):
        async for event in stream:
            seen.append(event)
            if event.event == name and text in str(event.data):
                return seen
    raise AssertionError("stream ended")


def test_topics_parse_and_round_trip() -> None:
    topics = Topics.parse("board, task:tsk_1,project:prj_2,home")
    assert topics.board and topics.home
    assert topics.tasks == {"tsk_1"} and topics.projects == {"prj_2"}
    assert Topics.parse(topics.query()) == topics
    assert stream_url(topics, 7).startswith("/ui/stream?after=7&topics=board,home,")
    with pytest.raises(ValidationError):
        Topics.parse("board,task:<script>")


def test_last_event_id_wins_over_after() -> None:
    assert resume_point(5, None) == 5
    assert resume_point(5, "12") == 12
    assert resume_point(5, "garbage") == 5


async def test_board_event_carries_the_feed_seq(workspace: Workspace) -> None:
    fragments.board(workspace)  # the first render imports every runtime (seconds on a busy box)
    stream = live_events(workspace, after=workspace.tasks.last_seq(), topics=Topics(board=True))
    try:
        task = workspace.tasks.create(TaskDraft(title="Streamed card"))
        (event,) = await take(stream, 1)
    finally:
        await stream.aclose()
    assert event.event == "board-cards"
    assert event.id == str(workspace.tasks.last_seq())
    assert f'id="card-{task.id}"' in str(event.data) and "Streamed card" in str(event.data)
    assert f'data-card-for="{task.id}" data-column="planned"' in str(event.data)


async def test_the_board_stream_sends_the_changed_card_only(workspace: Workspace) -> None:
    """A big Board does not make each live update big: one task changes, one card is sent."""
    many = [workspace.tasks.create(TaskDraft(title=f"Task number {i}")) for i in range(300)]
    board_page = fragments.board(workspace)
    assert len(board_page) > 100_000  # the whole Board, as the page first renders it
    stream = live_events(workspace, after=workspace.tasks.last_seq(), topics=Topics(board=True))
    try:
        workspace.tasks.update(many[7].id, {"title": "Renamed while you watch"})
        (event,) = await take(stream, 1)
        workspace.tasks.delete(many[8].id)
        (gone,) = await take(stream, 1)
    finally:
        await stream.aclose()
    data = str(event.data)
    assert event.event == "board-cards" and len(data.encode()) < 4_000
    assert "Renamed while you watch" in data
    assert data.count('class="card"') == 1 and data.count("<tr ") == 1
    assert f'data-row-for="{many[7].id}"' in data
    assert (
        str(gone.data).strip()
        == f'<template data-card-for="{many[8].id}" data-gone="1"></template>'
    )


async def test_task_topic_streams_log_lines_and_the_header(workspace: Workspace) -> None:
    task = workspace.tasks.create(TaskDraft(title="Watch me"))
    start = workspace.tasks.last_seq()
    stream = live_events(workspace, after=start, topics=Topics(tasks=frozenset({task.id})))
    try:
        workspace.tasks.update(task.id, {"title": "Watched"})
        log, head = await take(stream, 2)
    finally:
        await stream.aclose()
    assert log.event == f"task-{task.id}-log" and log.id == str(start + 1)
    assert "task updated: title" in str(log.data) and str(log.data).startswith("<li")
    assert head.event == f"task-{task.id}" and head.id == str(start + 1)
    assert "Watched" in str(head.data)


async def test_other_tasks_are_filtered_out(workspace: Workspace) -> None:
    mine = workspace.tasks.create(TaskDraft(title="mine"))
    stream = live_events(
        workspace, after=workspace.tasks.last_seq(), topics=Topics(tasks=frozenset({mine.id}))
    )
    try:
        workspace.tasks.create(TaskDraft(title="someone else's"))
        workspace.tasks.update(mine.id, {"priority": 0})
        events = await take(stream, 2)
    finally:
        await stream.aclose()
    assert {e.event for e in events} == {f"task-{mine.id}-log", f"task-{mine.id}"}


async def test_resume_replays_only_what_came_after(workspace: Workspace) -> None:
    """A reconnect with Last-Event-ID gets exactly the events it missed, none twice."""
    task = workspace.tasks.create(TaskDraft(title="t"))
    topics = Topics(tasks=frozenset({task.id}))
    first = live_events(workspace, after=0, topics=topics)
    try:
        created_line, _head = await take(first, 2)
    finally:
        await first.aclose()
    # The browser is disconnected while two more changes happen.
    workspace.tasks.update(task.id, {"title": "t2"})
    workspace.tasks.update(task.id, {"description": "d"})
    start = resume_point(0, created_line.id)
    resumed = live_events(workspace, after=start, topics=topics)
    try:
        events = await take(resumed, 3)
    finally:
        await resumed.aclose()
    lines = [e for e in events if e.event == f"task-{task.id}-log"]
    seen = int(str(created_line.id))
    assert [int(str(e.id)) for e in lines] == [seen + 1, seen + 2]
    assert "title" in str(lines[0].data) and "description" in str(lines[1].data)


async def test_a_run_streams_to_completion(worker: Workspace) -> None:
    task = worker.tasks.create(TaskDraft(title="live run", scenario=QUICK))
    topics = Topics(board=True, tasks=frozenset({task.id}))
    stream = live_events(worker, after=worker.tasks.last_seq(), topics=topics)
    try:
        worker.tasks.run(task.id)
        events = await take_until(stream, f"task-{task.id}-runs", "running -&gt; completed")
        events += await take(stream, 1)
    finally:
        await stream.aclose()
    [run] = worker.tasks.runs(task.id)
    lines = [str(e.data) for e in events if e.event == f"run-{run.id}-log"]
    sections = [str(e.data) for e in events if e.event == f"task-{task.id}-runs"]
    shown = "".join(lines + sections[-1:])
    assert "one" in shown and "result: all done" in shown
    assert f'id="run-{run.id}-log"' in sections[-1] and "Run 1 (latest)" in sections[-1]
    assert "status-completed" in str(events[-1].data)
    boards = [str(e.data) for e in events if e.event == "board-cards"]
    assert boards and all(e.id for e in events)
    ids = [int(str(e.id)) for e in events]
    assert ids == sorted(ids)


async def test_stream_endpoint_rejects_unknown_topics(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/stream?topics=everything")
    assert response.status_code == 422


async def test_stream_route_resumes_from_the_header_and_pings(workspace: Workspace) -> None:
    """The route wires Last-Event-ID and a 15 s keepalive into the response."""
    from stagent.web.ui.routes import stream

    first = workspace.tasks.create(TaskDraft(title="before the disconnect"))
    seen = workspace.tasks.last_seq()
    workspace.tasks.update(first.id, {"title": "while disconnected"})
    response = await stream(workspace, after=0, topics="board", last_event_id=str(seen))
    assert response.ping_interval == 15
    events = cast(AsyncGenerator[ServerSentEvent], response.body_iterator)
    try:
        (event,) = await take(events, 1)
    finally:
        await events.aclose()
    assert event.event == "board-cards" and event.id == str(seen + 1)
    assert "while disconnected" in str(event.data)


TWO_CALLS_THEN_WORK = {
    "steps": [
        {"usage": {"model": "scripted-1", "input_tokens": 9, "output_tokens": 5, "cost_usd": 0.12}},
        {"delay": 0.5},
        {"usage": {"model": "scripted-1", "input_tokens": 9, "output_tokens": 5, "cost_usd": 0.3}},
        {"delay": 3600},
    ],
    "result": "never reached: the test cancels it",
}


async def test_a_running_runs_spend_is_sent_as_each_call_is_booked(worker: Workspace) -> None:
    """The task page's "so far" follows the run's calls while its status stays running: the
    stream sends the figure alone (not the run's section) once each call is in the ledger."""
    task = worker.tasks.create(TaskDraft(title="two calls", scenario=TWO_CALLS_THEN_WORK))
    topics = Topics(tasks=frozenset({task.id}))
    stream = live_events(worker, after=worker.tasks.last_seq(), topics=topics)
    try:
        worker.tasks.run(task.id)
        [run] = worker.tasks.runs(task.id)
        events = await take_until(stream, f"run-{run.id}-cost", "$0.42")
        status = worker.tasks.get(task.id).status.value
    finally:
        await stream.aclose()
        worker.tasks.cancel(task.id)
    assert status == "running"  # no status change brought the figure
    costs = [" ".join(str(e.data).split()) for e in events if e.event == f"run-{run.id}-cost"]
    assert costs[-1] == "$0.42 <small>so far</small>"
    sections = [str(e.data) for e in events if e.event == f"task-{task.id}-runs"]
    assert all("$0.42" not in section for section in sections)  # not a re-rendered section
