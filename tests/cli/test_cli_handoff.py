"""``task run`` hands the run to a live local ``serve`` through its API (no engine here).

With a server running, the command queues through the server, says so as before, and the
server runs the task; the server's refusals are the same one-line errors (and JSON) as the
in-process path's; a record left by a server that is gone is ignored. (Issue 7: cancelling a
running task printed a DBOS traceback in the ``serve`` terminal; this checks it stays quiet.)
"""

from __future__ import annotations

import os
import socket
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clitools import Cli, assert_one_line_error

from servetools import free_port, serving
from stagent.cli import state as cli_state
from stagent.domain.ids import utcnow
from stagent.handoff import hand_to_server
from stagent.locations import API_ADDRESS_KEY
from stagent.store import executors as executor_repo
from stagent.store import settings as settings_repo
from stagent.store.tables import ExecutorRow
from stagent.workspace import Workspace

SLOW_SCENARIO = "name: slow\nsteps:\n  - delay: 30\nresult: late\n"


def forbid_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, fail if a command builds a workspace (the ORM and engine) in this process."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("task run must hand the run to the server")

    monkeypatch.setattr(cli_state, "build_workspace", refuse)


def wait_for_status(cli: Cli, task_id: str, wanted: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = str(cli.json("task", "show", task_id)["status"])
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@pytest.mark.slow
def test_with_serve_running_task_run_hands_the_run_to_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("db", "upgrade")
    slow = tmp_path / "slow.yaml"
    slow.write_text(SLOW_SCENARIO)
    quick, detailed = cli.add_task("for the server"), cli.add_task("with json")
    busy = cli.add_task("slow", "--scenario", str(slow))
    with serving(cli.home, env={"CI": "true"}) as server:
        assert _recorded(cli.home)["url"] == server.url
        with monkeypatch.context() as patched:
            forbid_workspace(patched)
            said = cli("task", "run", quick)
            shown = cli.json("task", "run", detailed)
            assert cli("task", "run", busy).exit_code == 0
            assert wait_for_status(cli, busy, "running") == "running"
            refused = cli("task", "run", busy)
            missing = cli("task", "run", "tsk_nope", "--json")
        # Said and shown as when the run is queued here:
        assert said.exit_code == 0, said.output
        assert said.stdout.startswith(f"Queued task {quick} on a running worker")
        assert shown["id"] == detailed and len(shown["runs"]) == 1
        assert shown.keys() == cli.json("task", "show", detailed).keys()
        # The server's refusals are the usual errors:
        assert_one_line_error(refused, contains=f"task {busy}")
        assert missing.exit_code == 1
        assert '"code": "not_found"' in missing.stdout
        assert "no task with id 'tsk_nope'" in missing.stdout
        # And the server ran what it was handed:
        assert wait_for_status(cli, quick, "completed") == "completed"
        assert wait_for_status(cli, detailed, "completed") == "completed"
        # Cancelling the running task is quiet in the server's terminal (no engine traceback):
        assert cli("task", "cancel", busy).exit_code == 0
        assert wait_for_status(cli, busy, "cancelled") == "cancelled"
        time.sleep(1)  # the worker notices and stops the agent
    assert server.stdout is not None
    assert "Traceback" not in server.stdout.read()
    assert _recorded(cli.home) is None  # a stopped server withdraws its address


def test_a_server_that_is_gone_is_ignored(cli: Cli) -> None:
    task_id = cli.add_task("no server")
    url = _record_server(cli.home, f"http://127.0.0.1:{free_port()}", beat_seconds_ago=0)

    assert not _hand(cli.home, task_id)  # nothing listens there
    _record_server(cli.home, url, beat_seconds_ago=3600)
    assert not _hand(cli.home, task_id)  # its worker's lease expired long ago
    assert cli.json("task", "show", task_id)["status"] == "planned"


def test_another_machines_server_is_ignored(cli: Cli) -> None:
    task_id = cli.add_task("no server")
    with socket.create_server(("127.0.0.1", 0)) as listening:
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        _record_server(cli.home, url, beat_seconds_ago=0, hostname="elsewhere")
        assert not _hand(cli.home, task_id)


def _recorded(home: Path) -> Any:
    with Workspace.temporary(home) as ws, ws.open().store.read() as session:
        return settings_repo.get(session, API_ADDRESS_KEY)


def _hand(home: Path, task_id: str) -> bool:
    url = f"sqlite:///{(home / 'stagent.sqlite').resolve()}"
    return hand_to_server(url, home, task_id, token=None, lease_seconds=15)


def _record_server(
    home: Path, url: str, *, beat_seconds_ago: float, hostname: str | None = None
) -> str:
    executor_id = f"test-serve-{time.monotonic_ns()}"
    with Workspace.temporary(home) as ws, ws.open().store.write() as session:
        executor_repo.register(
            session,
            executor_id=executor_id,
            kind="serve",
            hostname=hostname or socket.gethostname(),
            pid=os.getpid(),
        )
        session.flush()
        row = session.get(ExecutorRow, executor_id)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(seconds=beat_seconds_ago)
        settings_repo.put(session, API_ADDRESS_KEY, {"executor_id": executor_id, "url": url})
    return url
