"""A run killed right after its first provider call was booked, then recovered by another worker,
is charged once per provider call.

Real ``stagent worker`` processes on one SQLite file. The first worker books the call's usage and
dies at once (``os._exit``, as a kill would leave it: no confirmation to the runtime, no end of
the run). A second worker takes the run over when the first one's lease runs out and plays it
again; the call it reports again carries the same request id, and the ledger keeps the row it
has. On the scripted runtime the scenario is replayed; on the real Claude Code CLI the session
is resumed: the first process's call is booked once and the resumed one is booked too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagent.domain.ledger import LedgerFilter
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow

LEASE = "2"
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


def _env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(STAGENT_HOME=str(home), STAGENT_EXECUTOR_LEASE_SECONDS=LEASE, **extra)
    return env


def start_worker(home: Path, *, code: str | None = None, **extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "stagent"]
    if not code:
        command += ["worker", "--json"]
    proc = subprocess.Popen(
        command,
        env=_env(home, extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "executor_id" in json.loads(line or "{}"), f"the worker did not start: {line!r}"
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=20)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def client(home: Path) -> Iterator[Workspace]:
    ws = Workspace.temporary(home, executor_lease_seconds=float(LEASE)).open()
    yield ws
    ws.close()


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        stop(proc)


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
    dying = start_worker(home, code=code, **env)
    procs.append(dying)
    client.tasks.run(task_id)
    assert dying.wait(timeout=120) == 9  # it died at the chosen point
    booked = 1 if code == DIE_AFTER_FIRST_BOOKED_CALL else 0
    assert len(_calls(client, task_id)) == booked
    procs.append(start_worker(home, **env))


def test_a_replayed_scenario_books_each_call_once(
    home: Path, client: Workspace, procs: list[subprocess.Popen[str]]
) -> None:
    steps = [
        {"usage": {"model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 10}},
        {"delay": 0.5},
        {"usage": {"model": "claude-sonnet-4-5", "input_tokens": 2000, "output_tokens": 20}},
        {"text": "done"},
    ]
    task = client.tasks.create(TaskDraft(title="twice?", scenario={"steps": steps}))
    _kill_then_recover(home, client, procs, task.id)

    done = client.tasks.wait(task.id, timeout=90)
    assert done.status is TaskStatus.COMPLETED, done.error
    (run,) = client.tasks.runs(task.id)
    assert run.attempt == 2  # recovered, and the first call was reported again
    booked = sorted(row.input_tokens for row in _calls(client, task.id))  # type: ignore[attr-defined]
    assert booked == [1000, 2000]  # one row per provider call


@pytest.mark.parametrize(
    "death",
    [DIE_AFTER_FIRST_BOOKED_CALL, DIE_BEFORE_BOOKING],
    ids=["killed-after-booking", "killed-before-booking"],
)
def test_a_resumed_claude_session_books_the_first_call_once(
    home: Path,
    client: Workspace,
    procs: list[subprocess.Popen[str]],
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
        task = client.tasks.create(TaskDraft(title="SCENARIO:answer go", runtime="claude"))
        _kill_then_recover(home, client, procs, task.id, death, **env)
        done = client.tasks.wait(task.id, timeout=120)
        answered = [r for r in server.requests if r.get("scenario") == "answer"]

    assert done.status is TaskStatus.COMPLETED, done.error
    (run,) = client.tasks.runs(task.id)
    assert run.attempt == 2
    assert len(answered) == 2  # the first process's call and the resumed one
    rows = _calls(client, task.id)
    assert len(rows) == len(answered)  # one row per provider call
    booked = sum(r.input_tokens for r in rows)  # type: ignore[attr-defined]
    assert booked == 2 * 1000  # each call once: not 3 * 1000, and not 1000
