"""How fast the faces answer, timed as whole processes: ``python -m benchmarks.faces [--quick]``.

Prints the median and worst of N runs (10 by default, 3 with ``--quick``) of each measurement,
and the median CPU time (user + system; it moves far less than wall time on a busy machine),
beside the floor measured in the same run (``python -c pass``: the interpreter alone) and a peer
(importing the libraries every database command needs: SQLAlchemy's ORM, pydantic-settings,
Typer, Rich). Asserts nothing. Each process is timed from spawn to exit (or, for ``serve``, to
its first HTTP answer), so interpreter start-up, imports and teardown all count.

- ``stagent --help`` and ``stagent task list`` (20 tasks in the workspace);
- ``stagent task add``, ``stagent ledger list``, ``stagent inbox``, ``stagent project list`` and
  ``stagent doctor``;
- ``stagent serve``: spawn to the first ``200`` from ``GET /api/v1/projects``;
- ``stagent task run ID`` of a one-step scripted task, with a ``serve`` running (the run happens
  in the server; the command returns once it is queued) and with ``--follow`` (returns when the
  task completed);
- ``stagent task run ID`` without a server (this process runs the task itself).

Targets (issue 7): ``--help`` and ``task list`` under 300 ms, ``serve`` answering HTTP under
1.5 s, ``task run`` with a server under 1 s.

Runs use a throwaway ``STAGENT_HOME``; a first, uncounted run of each command warms the page
cache and writes byte-code, as a user's second command would find it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STAGENT = str(Path(sys.executable).with_name("stagent"))
DATABASE_COMMAND_LIBRARIES = ("sqlalchemy.orm", "pydantic_settings", "typer", "rich.console")
"""What any command that reads the database imports, whatever Stagent does: the peer row."""
ONE_STEP = "name: one step\nsteps:\n  - text: 'hello'\nresult: done\n"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGENT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install writes byte-code
    env["STAGENT_HOME"] = str(home)
    env["CI"] = "true"  # never open a browser
    return env


def _timed(command: list[str], env: dict[str, str], *, check: bool = True) -> float:
    """Wall seconds of one run of ``command`` (``check=False``: a non-zero exit is an answer
    too, e.g. ``doctor`` finding a runtime not ready)."""
    start = time.perf_counter()
    before = _children_cpu()
    subprocess.run(command, env=env, check=check, stdout=subprocess.DEVNULL)
    _cpu.append(_children_cpu() - before)
    return time.perf_counter() - start


_cpu: list[float] = []
"""CPU seconds (user + system) of each timed process, in the order they ran."""


def _process_cpu(pid: int) -> float:
    """CPU seconds a running process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stagent(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([STAGENT, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def _serving(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """Start ``stagent serve``; yields the process and the seconds until HTTP answered."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api/v1/projects"
    start = time.perf_counter()
    proc = subprocess.Popen(
        [STAGENT, "serve", "--no-open", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not _answers(url):
            if proc.poll() is not None:
                raise RuntimeError("stagent serve exited before answering")
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        _cpu.append(_process_cpu(proc.pid))
        yield proc, seconds
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:  # a machine this busy: do not wait for ever
            proc.kill()
            proc.wait()


def _new_task(env: dict[str, str], scenario: Path) -> str:
    out = _stagent(env, "task", "add", "bench", "--scenario", str(scenario), "--json")
    return str(json.loads(out)["id"])


def _repeat(runs: int, measure: Callable[[], float]) -> tuple[list[float], list[float]]:
    """Wall times of ``runs`` measurements after one warm-up, and the CPU time of each."""
    measure()  # warm-up, not counted
    _cpu.clear()
    times = [measure() for _ in range(runs)]
    return times, list(_cpu[-runs:]) if len(_cpu) >= runs else []


def _print(label: str, measured: tuple[list[float], list[float]], target: float = 0) -> None:
    times, cpu = measured
    median, worst = statistics.median(times), max(times)
    line = f"{label:<42} median {median * 1000:6.0f} ms  worst {worst * 1000:6.0f} ms"
    line += f"  cpu {statistics.median(cpu) * 1000:5.0f} ms" if cpu else " " * 15
    print(line + (f"  (target < {target * 1000:.0f} ms)" if target else ""), flush=True)


def main() -> None:
    """Measure every face and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs each instead of 10")
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 10)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = _env(home)
        scenario = Path(tmp) / "one-step.yaml"
        scenario.write_text(ONE_STEP)
        _stagent(env, "db", "upgrade")
        for _ in range(20):
            _new_task(env, scenario)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{runs} runs each; whole processes, spawn to exit (cpu: user + system, median)")
        print(f"load average at start: {load}\n")
        floor = [sys.executable, "-c", "pass"]
        _print("floor: python -c pass", _repeat(runs, lambda: _timed(floor, env)))
        sqlite_floor = [sys.executable, "-c", "import sqlite3"]
        _print("floor: import sqlite3", _repeat(runs, lambda: _timed(sqlite_floor, env)))
        libraries = [sys.executable, "-c", f"import {', '.join(DATABASE_COMMAND_LIBRARIES)}"]
        _print(
            "peer: import sqlalchemy.orm, pydantic...",
            _repeat(runs, lambda: _timed(libraries, env)),
        )
        _print("stagent --help", _repeat(runs, lambda: _timed([STAGENT, "--help"], env)), 0.3)
        task_list = [STAGENT, "task", "list"]
        _print("stagent task list", _repeat(runs, lambda: _timed(task_list, env)), 0.3)
        add = [STAGENT, "task", "add", "bench", "--scenario", str(scenario)]
        _print("stagent task add", _repeat(runs, lambda: _timed(add, env)))
        ledger = [STAGENT, "ledger", "list"]
        _print("stagent ledger list", _repeat(runs, lambda: _timed(ledger, env)))
        _print("stagent inbox", _repeat(runs, lambda: _timed([STAGENT, "inbox"], env)))
        projects = [STAGENT, "project", "list"]
        _print("stagent project list", _repeat(runs, lambda: _timed(projects, env)))
        _print(
            "stagent doctor", _repeat(runs, lambda: _timed([STAGENT, "doctor"], env, check=False))
        )
        _print("stagent task run (no server)", _repeat(runs, lambda: _run_task(env, scenario)))
        _print("stagent serve -> HTTP 200", _repeat(runs, lambda: _serve_once(env)), 1.5)
        with _serving(env):
            _wait_for_worker(home)
            run_times = _repeat(runs, lambda: _run_task(env, scenario))
            _print("stagent task run (server running)", run_times, 1.0)
            follow_times = _repeat(runs, lambda: _run_task(env, scenario, "--follow"))
            _print("stagent task run --follow (server running)", follow_times, 1.0)
        print(f"\nload average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _wait_for_worker(home: Path, timeout: float = 120) -> None:
    """Wait until the server's worker runs and has recorded its API address (``task run``
    hands runs to it from then on; before, it queues them itself)."""
    deadline = time.monotonic() + timeout
    query = "SELECT 1 FROM settings WHERE key = 'api_address'"
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(home / "stagent.sqlite")) as conn:
            if conn.execute(query).fetchone() is not None:
                return
        time.sleep(0.05)
    raise RuntimeError("the server's worker never started")


def _run_task(env: dict[str, str], scenario: Path, *flags: str) -> float:
    task_id = _new_task(env, scenario)
    return _timed([STAGENT, "task", "run", task_id, *flags], env)


def _serve_once(env: dict[str, str]) -> float:
    with _serving(env) as (_, seconds):
        return seconds


if __name__ == "__main__":
    main()
