"""The long-running commands and Ctrl-C, in real processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest
from clitools import Cli

from servetools import SERVE_UP_SECONDS
from stagent.workspace import Workspace

STARTUP_TIMEOUT = SERVE_UP_SECONDS


class Proc:
    """A ``python -m stagent ...`` child whose stdout lines are read on a thread."""

    def __init__(self, args: list[str], home: Path) -> None:
        env = {**os.environ, "STAGENT_HOME": str(home), "PYTHONUNBUFFERED": "1", "CI": "true"}
        env.pop("STAGENT_RAISE_ERRORS", None)
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "stagent", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            # A shell that backgrounds us may ignore SIGINT; the child must see Ctrl-C.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: Queue[str] = Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = STARTUP_TIMEOUT) -> str:
        """Return the first stdout line containing ``text``."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except Empty:
                self.popen.kill()
                _, err = self.popen.communicate()
                pytest.fail(f"no {text!r} in {self.seen}; stderr: {err}")
            self.seen.append(line)
            if text in line:
                return line

    def stop(self, sig: signal.Signals, timeout: float = 60.0) -> tuple[int, str, str]:
        """Send ``sig`` and return (exit code, rest of stdout, stderr)."""
        self.popen.send_signal(sig)
        code = self.popen.wait(timeout=timeout)
        rest: list[str] = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        assert self.popen.stderr is not None
        return code, "".join(rest), self.popen.stderr.read()

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


@pytest.fixture
def spawn(cli: Cli) -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for proc in procs:
        proc.kill()


def _start(spawn: list[Proc], cli: Cli, *args: str) -> Proc:
    proc = Proc(list(args), cli.home)
    spawn.append(proc)
    return proc


@pytest.mark.slow
def test_serve_answers_the_api_and_stops_cleanly_on_sigterm(cli: Cli, spawn: list[Proc]) -> None:
    pytest.importorskip(
        "stagent.web.app", reason="the web app (src/stagent/web/app.py) is not built yet"
    )
    task_id = cli.add_task("visible on the web")
    proc = _start(spawn, cli, "serve", "--no-open", "--port", "0")

    line = proc.wait_for("Stagent is running at ")
    url = line.split("running at ", 1)[1].strip()

    response = httpx.get(f"{url}/api/v1/tasks", timeout=60)
    assert response.status_code == 200
    assert task_id in response.text

    code, rest, err = proc.stop(signal.SIGTERM)
    assert code == 0, err
    assert "Stagent stopped." in rest
    assert "Traceback" not in err
    assert cli.json("task", "show", task_id)["status"] == "planned"


@pytest.mark.slow
def test_worker_runs_what_the_cli_enqueues(
    cli: Cli, spawn: list[Proc], hello_scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = _start(spawn, cli, "worker", "--concurrency", "2", "--json")
    started = json.loads(proc.wait_for('"started"'))
    assert started["concurrency"] == 2

    def no_local_worker(self: Workspace, kind: str = "worker") -> None:
        raise AssertionError("task run must hand the task to the live worker")

    monkeypatch.setattr(Workspace, "start_worker", no_local_worker)
    task_id = cli.add_task("for the worker", "--scenario", str(hello_scenario))

    result = cli("task", "run", task_id, "--follow")

    assert result.exit_code == 0, result.output
    assert "result: Done." in result.stdout
    assert cli.json("task", "show", task_id)["status"] == "completed"

    code, rest, err = proc.stop(signal.SIGTERM)
    assert code == 0, err
    assert json.loads(rest) == {"event": "stopped"}


@pytest.mark.slow
def test_worker_says_where_it_runs_and_stops_on_ctrl_c(cli: Cli, spawn: list[Proc]) -> None:
    proc = _start(spawn, cli, "worker", "--concurrency", "3")
    line = proc.wait_for(" is running ")
    proc.wait_for("Press Ctrl-C to stop.")

    code, rest, err = proc.stop(signal.SIGINT)

    assert re.fullmatch(r"Worker (\S+) is running \(concurrency 3\) on sqlite:///\S+\n", line)
    assert str(cli.home / "stagent.sqlite") in line
    assert (code, rest) == (0, "Worker stopped.\n"), err
    assert "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_during_a_local_run_cancels_the_task(
    cli: Cli, spawn: list[Proc], scenario_file: Callable[..., Path]
) -> None:
    path = scenario_file('steps:\n  - text: "starting"\n  - delay: 60\nresult: late\n')
    task_id = cli.add_task("slow", "--scenario", str(path))
    proc = _start(spawn, cli, "task", "run", task_id, "--follow")
    proc.wait_for("starting")

    code, _, err = proc.stop(signal.SIGINT)

    assert code == 130
    assert f"Interrupted: task {task_id} is cancelled." in err
    assert cli.json("task", "show", task_id)["status"] == "cancelled"


def test_serve_refuses_a_public_host_without_a_token(cli: Cli) -> None:
    result = cli("serve", "--host", "0.0.0.0", "--no-open")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: refusing to serve on 0.0.0.0 without an access token")


def test_serve_reports_a_busy_port(cli: Cli) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = cli("serve", "--port", str(port), "--no-open")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
