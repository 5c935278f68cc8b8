"""``stagent serve`` answers HTTP while its worker starts, and reports a worker that cannot."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from clitools import Cli

from servetools import SERVE_UP_SECONDS
from stagent.domain.errors import StagentError
from stagent.workspace import Workspace

SLOW_WORKER = """
import pathlib, sys, time
from stagent.workspace import Workspace
from stagent.cli import serve
from stagent.cli.app import main

release = pathlib.Path(sys.argv.pop(1))
real_start = Workspace.start_worker

def slow_start(self, kind="worker"):
    while not release.exists():
        time.sleep(0.05)
    real_start(self, kind)

def listen_and_tell(host, port):
    sock = real_listen(host, port)
    print("listening on port", sock.getsockname()[1], flush=True)
    return sock

real_listen = serve.listen
serve.listen = listen_and_tell
Workspace.start_worker = slow_start
sys.argv = ["stagent", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_pages_answer_before_the_worker_is_up_and_the_link_waits_for_it(
    cli: Cli, tmp_path: Path
) -> None:
    cli.add_task("listed while the engine starts")
    release = tmp_path / "release"
    env = {**os.environ, "STAGENT_HOME": str(cli.home), "CI": "true", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-c", SLOW_WORKER, str(release), "serve", "--no-open"]
    proc = subprocess.Popen([*args, "--port", "0"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        # The kernel picks the port as serve binds it (a port picked here first could be taken
        # by another connection before the child, importing for seconds under load, binds it).
        said = proc.stdout.readline()
        assert said.startswith("listening on port"), said
        port = int(said.split()[-1])
        answered = _get_when_up(f"http://127.0.0.1:{port}/api/v1/tasks")
        assert "listed while the engine starts" in answered.text
        release.touch()  # now let the engine start: the announcement follows
        assert "Stagent is running at" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert "Stagent stopped." in out


def test_a_worker_that_cannot_start_stops_the_server_with_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Workspace, kind: str = "worker") -> None:
        raise StagentError("the engine cannot start here", hint="look at the database")

    monkeypatch.setattr(Workspace, "start_worker", broken)
    monkeypatch.delenv("STAGENT_RAISE_ERRORS")
    result = cli("serve", "--no-open", "--port", "0")
    assert result.exit_code == 1
    assert "Error: the engine cannot start here" in result.stderr
    assert "Stagent is running at" not in result.stdout
    assert "Traceback" not in result.output


def _get_when_up(url: str, timeout: float = SERVE_UP_SECONDS) -> httpx.Response:
    """The first answer from a server starting up (a minute and more on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=30)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _Starter:
    def __init__(self) -> None:
        self.collecting_when_started: bool | None = None

    def start(self) -> None:
        self.collecting_when_started = gc.isenabled()


def test_garbage_is_collected_once_the_server_answers() -> None:
    """``serve`` loads its web app with the collector off (`stagent.cli.startup`) and turns it
    back on when it listens, before the worker starts: a server that runs for days collects."""
    from stagent.cli.serve import _listening  # pyright: ignore[reportPrivateUsage]

    starter = _Starter()
    gc.disable()
    try:
        _listening(starter.start)
        assert starter.collecting_when_started is True
    finally:
        gc.unfreeze()
        gc.enable()
