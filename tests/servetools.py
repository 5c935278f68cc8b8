"""Crash-test scaffolding: run `stagent serve` as a child process, kill it, start it again.

Importable from every test (``tests/`` is on ``sys.path`` through its ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

READY = "running at"
"""What `stagent serve` prints once it answers (and its worker runs)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(
    home: Path, port: int, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """`stagent serve` on ``home`` in its own process group (so a kill takes its children)."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    child_env["STAGENT_HOME"] = str(home)
    child_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "stagent", "serve", "--no-open", "--port", str(port)],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> None:
    """Read the process's output until a line contains ``needle`` (or fail showing it)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never printed; output was:\n{''.join(seen)}")


def kill_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Send ``sig`` to the process group and reap the process."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


@contextlib.contextmanager
def serving(
    home: Path, port: int, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[str]]:
    """A ready `stagent serve`, stopped (SIGTERM) on the way out unless the test killed it."""
    proc = start_serve(home, port, env)
    try:
        wait_for_line(proc, READY)
        yield proc
    finally:
        if proc.poll() is None:
            kill_group(proc, signal.SIGTERM)


def sigkill(proc: subprocess.Popen[str]) -> None:
    """Kill the server the hard way: no shutdown code runs."""
    kill_group(proc, signal.SIGKILL)
