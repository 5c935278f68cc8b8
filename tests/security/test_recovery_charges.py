"""A run killed right after its first provider call was booked (or, on Claude, just before), then
recovered by another worker, is charged once per provider call.

Real ``stagent worker`` processes on one SQLite file. The first worker books the call's usage and
dies at once (``os._exit``, as a kill would leave it: no confirmation to the runtime, no end of
the run). A second worker takes the run over when the first one's lease runs out and plays it
again; the call it reports again carries the same request id, and the ledger keeps the row it
has. On the scripted runtime the scenario is replayed; on the real Claude Code CLI the session
is resumed: the first process's call is booked once and the resumed one is booked too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from servetools import start_worker
from stagent.domain.ledger import LedgerFilter
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow

DIE_AFTER_FIRST_BOOKED_CALL = """
import os, sys
from stagent.governance import budgets
original = budgets.BudgetService.book_usage
def book_usage(self, task, usage, **kw):
    entry, created = original(self, task, usage, **kw)
    if created:
        os._exit(9)  # the call is booked; nothing after it happens
    return entry, created
budgets.BudgetService.book_usage = book_usage
sys.argv = ["stagent", "worker", "--json"]
from stagent.cli.app import main
main()
"""
DIE_BEFORE_BOOKING = """
import os, sys
from stagent.runtimes import _claude_stream
original = _claude_stream.UsageLedger.stage
def stage(self, session_id, usages):
    original(self, session_id, usages)
    if usages:
        os._exit(9)  # the result's usage is written down; the engine has not booked it
_claude_stream.UsageLedger.stage = stage
sys.argv = ["stagent", "worker", "--json"]
from stagent.cli.app import main
main()
"""


def _calls(ws: Workspace, task_id: str) -> list[object]:
    return [
        row
        for row in ws.budgets.usage(LedgerFilter(task_id=task_id), limit=100)
        if row.status not in ("reserved", "released", "blocked")
    ]


def _kill_then_recover(
    home: Path,
    client: Workspace,
    procs: list[subprocess.Popen[str]],
    task_id: str,
    code: str = DIE_AFTER_FIRST_BOOKED_CALL,
    **env: str,
) -> None:
    dying, _ = start_worker(home, code=code, env=env)
    procs.append(dying)
    client.tasks.run(task_id)
    assert dying.wait(timeout=120) == 9  # it died at the chosen point
    booked = 1 if code == DIE_AFTER_FIRST_BOOKED_CALL else 0
    assert len(_calls(client, task_id)) == booked
    procs.append(start_worker(home, env=env)[0])


def test_a_replayed_scenario_books_each_call_once(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    steps = [
        {"usage": {"model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 10}},
        {"delay": 0.5},
        {"usage": {"model": "claude-sonnet-4-5", "input_tokens": 2000, "output_tokens": 20}},
        {"text": "done"},
    ]
    task = worker_client.tasks.create(TaskDraft(title="twice?", scenario={"steps": steps}))
    _kill_then_recover(worker_home, worker_client, worker_procs, task.id)

    done = worker_client.tasks.wait(task.id, timeout=90)
    assert done.status is TaskStatus.COMPLETED, done.error
    (run,) = worker_client.tasks.runs(task.id)
    assert run.attempt == 2  # recovered, and the first call was reported again
    booked = sorted(row.input_tokens for row in _calls(worker_client, task.id))  # type: ignore[attr-defined]
    assert booked == [1000, 2000]  # one row per provider call


@pytest.mark.parametrize(
    "death",
    [DIE_AFTER_FIRST_BOOKED_CALL, DIE_BEFORE_BOOKING],
    ids=["killed-after-booking", "killed-before-booking"],
)
def test_a_resumed_claude_session_books_the_first_call_once(
    worker_home: Path,
    worker_client: Workspace,
    worker_procs: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
    death: str,
) -> None:
    """The CLI reports usage with its result; the worker dies between writing the result's
    usage down and confirming it booked (once after the engine booked it, once before). The
    resumed session re-reports the first call under its request id and books its own: one row
    per call the scripted server answered."""
    script = ModelScript.model_validate(
        {
            "name": "answer",
            "turns": [{"text": "Answered.", "usage": {"input_tokens": 1000, "output_tokens": 50}}],
        }
    )
    with AnthropicScriptServer(ScriptBook([script])) as server:
        env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-ant-recovery-0123456789"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)  # the client checks the runtime is ready
        task = worker_client.tasks.create(TaskDraft(title="SCENARIO:answer go", runtime="claude"))
        _kill_then_recover(worker_home, worker_client, worker_procs, task.id, death, **env)
        done = worker_client.tasks.wait(task.id, timeout=120)
        answered = [r for r in server.requests if r.get("scenario") == "answer"]

    assert done.status is TaskStatus.COMPLETED, done.error
    (run,) = worker_client.tasks.runs(task.id)
    assert run.attempt == 2
    assert len(answered) == 2  # the first process's call and the resumed one
    rows = _calls(worker_client, task.id)
    assert len(rows) == len(answered)  # one row per provider call
    booked = sum(r.input_tokens for r in rows)  # type: ignore[attr-defined]
    assert booked == 2 * 1000  # each call once: not 3 * 1000, and not 1000
