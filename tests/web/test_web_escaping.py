"""Agent output is untrusted: it renders escaped on pages and in SSE fragments."""

from __future__ import annotations

import asyncio

import httpx
from webtools import wait_for_status

from stagent.engine.services import TaskDraft
from stagent.web.ui.stream import Topics, live_events
from stagent.web.ui.templating import ENV, page_text
from stagent.workspace import Workspace

EVIL = "<script>alert('pwned')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"
EVIL_SCENARIO = {"steps": [{"text": f"text {EVIL}"}], "result": f"result {EVIL}"}


def test_autoescape_is_on() -> None:
    assert ENV.autoescape is True


async def test_result_is_escaped_on_the_task_page(worker_client: httpx.AsyncClient) -> None:
    created = await worker_client.post(
        "/api/v1/tasks", json={"title": f"title {EVIL}", "scenario": EVIL_SCENARIO}
    )
    task_id = created.json()["id"]
    await worker_client.post(f"/api/v1/tasks/{task_id}/run")
    done = await wait_for_status(worker_client, task_id, {"completed", "failed"})
    assert done["result"] == f"result {EVIL}"
    for path in (f"/tasks/{task_id}", "/board", "/"):
        page = (await worker_client.get(path)).text
        assert EVIL not in page, path
        assert ESCAPED in page, path


async def test_result_is_escaped_in_sse_fragments(worker: Workspace) -> None:
    """Every fragment a Board/Home/task tab is sent while the run goes by is escaped, and the
    tab is told the run completed on each of them.

    The stream reads on until the task's header and the Board's card both show the run
    completed and every expected name came: when the whole run falls into one feed batch (the
    stream's first read came after the run ended, as under load), that batch's task fragments
    are sent before its ``board-cards`` and ``home``.

    The runtimes are built first, as ``serve`` does at start-up: a task header names its
    runtime's label, and building every runtime imports the Anthropic and Claude SDKs (3.5 s of
    CPU, 55 s of wall at load 28, inside the stream's first read and its 60 s deadline).
    """
    worker.runtimes.all()
    task = worker.tasks.create(TaskDraft(title=f"title {EVIL}", scenario=EVIL_SCENARIO))
    topics = Topics(board=True, home=True, tasks=frozenset({task.id}))
    stream = live_events(worker, after=worker.tasks.last_seq(), topics=topics)
    expected = {"board-cards", "home", f"task-{task.id}-runs", f"task-{task.id}"}
    names: set[str] = set()
    completed_on: set[str] = set()
    try:
        worker.tasks.run(task.id)
        async with asyncio.timeout(60):
            async for event in stream:
                data = str(event.data)
                assert EVIL not in data, event.event
                names.add(str(event.event))
                if event.event == f"task-{task.id}" and "status-completed" in data:
                    assert f"result {ESCAPED}" in data
                    completed_on.add("task")
                if event.event == "board-cards" and "status-completed" in data:
                    assert f"title {ESCAPED}" in data
                    completed_on.add("board")
                if completed_on == {"task", "board"} and expected <= names:
                    break
    finally:
        await stream.aclose()


def test_a_page_keeps_a_hints_sentences_that_are_not_cli_syntax() -> None:
    hint = "did you mean: code-reviewer? `stagent profile list` shows all 52 (or the Profiles page)"
    assert str(page_text(hint)) == "did you mean: code-reviewer?"
    assert str(page_text("fix it with `stagent budget set`; or use --force")) == ""
    named = "the field <code>name</code> is missing."
    assert str(page_text("the field `name` is missing.")) == named
    assert str(page_text("<b>agent said</b>")) == "&lt;b&gt;agent said&lt;/b&gt;"
