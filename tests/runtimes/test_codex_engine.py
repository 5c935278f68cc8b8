"""End to end: a task on the codex runtime runs through the engine to Completed; and nothing
Codex does leaves 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from codex_fixtures import (  # noqa: F401 (fixtures)
    TestGate,
    collect,
    make_runtime,
    openai_server_fixture,
    workdir_fixture,
)

from stagent.domain.events import ResultEvent
from stagent.domain.ledger import LedgerFilter
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import RunRequest
from stagent.runtimes.codex import bundled_codex
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def codex_workspace(tmp_path: Path, openai_server: ScriptedOpenAIServer) -> Iterator[Workspace]:
    ws = Workspace.temporary(tmp_path / "ws").open()
    ws.rules.apply_preset("full-auto")  # governance allows these tools by rule: no one is asked
    ws.runtimes.register(make_runtime(openai_server, tmp_path / "codex-state"))
    ws.start_worker()
    try:
        yield ws
    finally:
        ws.close()


def test_a_codex_task_runs_to_completed_through_the_engine(
    codex_workspace: Workspace, workdir: Path
) -> None:
    ws = codex_workspace
    ws.projects.create("demo", directory=str(workdir))
    task = ws.tasks.create(
        TaskDraft(
            title="Make a file", description="SCENARIO:command", project="demo", runtime="codex"
        )
    )
    ws.tasks.run(task.id)
    done = ws.tasks.wait(task.id, timeout=60)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result is not None and done.result.startswith("Done.")
    assert done.session_id  # the Codex thread id, for resuming
    assert (workdir / "made.txt").read_text() == "made-by-codex\n"
    events = ws.tasks.events(task.id)
    kinds = [e.kind for e in events]
    for expected in ("session", "text", "tool_request", "tool_result", "usage", "result"):
        assert expected in kinds
    assert kinds.index("session") < kinds.index("tool_request") < kinds.index("tool_result")
    assert kinds[-2:] == ["result", "status"]
    [session] = [e for e in events if e.kind == "session"]
    assert session.payload["session_id"] == done.session_id
    usages = [e.payload for e in events if e.kind == "usage"]
    assert [(u["input_tokens"], u["cache_read_tokens"], u["output_tokens"]) for u in usages] == [
        (300, 100, 20),
        (400, 50, 9),
    ]


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace")
async def test_codex_connects_to_nothing_but_127_0_0_1(
    openai_server: ScriptedOpenAIServer, workdir: Path, tmp_path: Path
) -> None:
    trace = workdir / "connect.trace"  # the agent's sandbox lets it write only there
    wrapper = tmp_path / "codex-under-strace"
    wrapper.write_text(
        f'#!/bin/sh\nexec strace -f -qq -e trace=connect -o {trace} {bundled_codex()} "$@"\n'
    )
    wrapper.chmod(0o755)
    codex = make_runtime(openai_server, tmp_path / "state", codex_path=str(wrapper))
    request = RunRequest(
        task_id="egress", prompt="SCENARIO:command", working_directory=str(workdir)
    )
    events = await collect(await codex.start(request, TestGate()), timeout=60)
    assert isinstance(events[-1], ResultEvent)
    connects = [line for line in trace.read_text().splitlines() if "connect(" in line]
    inet = [line for line in connects if "AF_INET" in line]
    assert inet, "the provider connection should have been traced"
    for line in inet:
        assert re.search(r'inet_addr\("127\.0\.0\.1"\)', line), line
        assert "htons(53)" not in line, line


def test_a_codex_task_cancelled_at_an_approval_books_the_call_it_was_served(
    tmp_path: Path, openai_server: ScriptedOpenAIServer, workdir: Path
) -> None:
    """A person cancels while the command waits for them: the call that asked for it was
    served, so it is booked once (Codex reports it as the turn is interrupted; had it not, an
    estimate would be booked)."""
    ws = Workspace.temporary(tmp_path / "ws").open()
    try:
        ws.runtimes.register(make_runtime(openai_server, tmp_path / "codex-state"))
        ws.start_worker()
        ws.projects.create("demo", directory=str(workdir))
        task = ws.tasks.create(
            TaskDraft(title="ask", description="SCENARIO:command", project="demo", runtime="codex")
        )
        ws.tasks.run(task.id)
        deadline = time.monotonic() + 60
        while not ws.approvals.list_pending(task_id=task.id):
            assert time.monotonic() < deadline, ws.tasks.events(task.id)
            time.sleep(0.1)
        ws.tasks.cancel(task.id)
        deadline = time.monotonic() + 60
        while not (rows := ws.budgets.usage(LedgerFilter(task_id=task.id))):
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(rows) == 1, rows
        assert ws.tasks.get(task.id).status is TaskStatus.CANCELLED
    finally:
        ws.close()
