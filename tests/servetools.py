"""Crash-test scaffolding: run `stagent serve` or `stagent worker` as a child process, kill it
(or freeze it), start it again.

Importable from every test (``tests/`` is on ``sys.path`` through its ``conftest.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

READY = "running at"
"""What `stagent serve` prints once it answers (and its worker runs)."""
SERVE_UP_SECONDS = 240.0
"""How long a child `stagent serve` may take to answer: 57-133 s were seen at load 12-35, and
102-457 s at load 25-42 under `nice`."""
WORKER_LEASE = "2"
"""The executor lease (seconds) of the worker processes these helpers start: a frozen or killed
worker is taken for dead this soon."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a child `stagent` process on ``home`` (without pytest's variables)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    out["STAGENT_HOME"] = str(home)
    out.update(env or {})
    return out


class ServeProcess(subprocess.Popen[str]):
    """A child `stagent serve`; ``url`` is where it listens once it printed `READY`."""

    url: str = ""


def start_serve(home: Path, env: Mapping[str, str] | None = None) -> ServeProcess:
    """`stagent serve` on ``home`` in its own process group (so a kill takes its children), on
    a port the kernel picks as it binds (``--port 0``)."""
    return ServeProcess(
        [sys.executable, "-m", "stagent", "serve", "--no-open", "--port", "0"],
        env=child_env(home, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_line(
    proc: subprocess.Popen[str], needle: str, timeout: float = SERVE_UP_SECONDS
) -> str:
    """Read the process's output until a line contains ``needle`` and return that line (or
    fail showing the output)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return line
    raise AssertionError(f"{needle!r} never printed; output was:\n{''.join(seen)}")


def kill_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Send ``sig`` to the process group and reap the process."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


@contextlib.contextmanager
def serving(home: Path, env: Mapping[str, str] | None = None) -> Iterator[ServeProcess]:
    """A ready `stagent serve` (its address in ``url``), stopped (SIGTERM) on the way out
    unless the test killed it.

    It listens on ``--port 0``: the kernel picks a free port as serve binds it. A port picked
    by the test and handed over later could be taken meanwhile (any outgoing connection on this
    machine may get it as its ephemeral port; CI met it with a restarted server)."""
    proc = start_serve(home, env)
    try:
        proc.url = wait_for_line(proc, READY).split(READY, 1)[1].strip()
    except BaseException:
        kill_group(proc, signal.SIGTERM)
        raise
    try:
        yield proc
    finally:
        if proc.poll() is None:
            kill_group(proc, signal.SIGTERM)


def sigkill(proc: subprocess.Popen[str]) -> None:
    """Kill the server the hard way: no shutdown code runs."""
    kill_group(proc, signal.SIGKILL)


def start_worker(
    home: Path, *args: str, code: str | None = None, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    """`stagent worker --json ARGS` on ``home`` (lease `WORKER_LEASE`) in its own process group;
    or ``code`` run by ``python -c``, which patches something and then calls the CLI's ``main``
    with ``worker --json``. Returns the process and its executor id once it runs."""
    command = (
        [sys.executable, "-c", code]
        if code
        else [sys.executable, "-m", "stagent", "worker", "--json", *args]
    )
    proc = subprocess.Popen(
        command,
        env=child_env(home, {"STAGENT_EXECUTOR_LEASE_SECONDS": WORKER_LEASE, **(env or {})}),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        return proc, str(json.loads(line)["executor_id"])
    except (ValueError, KeyError, TypeError):
        stop_worker(proc, signal.SIGKILL)
        said = line + proc.stdout.read()  # e.g. a start-up error, as JSON over several lines
        raise AssertionError(f"the worker did not start: {said}") from None


def freeze_outside_writes(proc: subprocess.Popen[str], database: Path, timeout: float = 60) -> None:
    """SIGSTOP a worker's group at a moment it holds no SQLite write transaction. A frozen
    holder keeps the file's write lock (it is the process's), so every other writer -- a
    survivor starting up, the test's client -- waits out its busy timeout and fails: under load
    a freeze landed inside a heartbeat's transaction (wave 16). Frozen mid-write, it is let go
    for a moment and frozen again."""
    deadline = time.monotonic() + timeout
    while True:
        os.killpg(proc.pid, signal.SIGSTOP)
        if not _write_locked(database):
            return
        os.killpg(proc.pid, signal.SIGCONT)
        assert time.monotonic() < deadline, "the worker never left its write transaction"
        time.sleep(0.01)


def _write_locked(database: Path) -> bool:
    """Whether another connection holds ``database``'s write lock now."""
    conn = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return True
    finally:
        conn.close()


def stop_worker(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> None:
    """Send ``sig`` to a worker's group (resumed first, should it be frozen) and reap it; one
    that does not exit within 20 s is killed."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=20)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    """Return once ``check()`` is truthy (polled every 0.1 s); fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
