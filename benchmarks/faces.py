"""How fast the faces answer, timed as whole processes: ``python -m benchmarks.faces [--quick]``.

Prints the median and worst of N runs (10 by default, 3 with ``--quick``) of each measurement,
beside the floor measured in the same run (``python -c pass``: the interpreter alone). Asserts
nothing. Each process is timed from spawn to exit (or, for ``serve``, to its first HTTP answer),
so interpreter start-up, imports and teardown all count.

- ``stagent --help`` and ``stagent task list`` (20 tasks in the workspace);
- ``stagent task add`` and ``stagent inbox``;
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
import json
import os
import resource
import socket
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
ONE_STEP = "name: one step\nsteps:\n  - text: 'hello'\nresult: done\n"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGENT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's install writes byte-code
    env["STAGENT_HOME"] = str(home)
    env["CI"] = "true"  # never open a browser
    return env


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    before = _children_cpu()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    _cpu.append(_children_cpu() - before)
    return time.perf_counter() - start


_cpu: list[float] = []
"""CPU seconds (user + system) of each timed process, in the order they ran."""


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
        yield proc, time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        print(f"{runs} runs each; whole processes, spawn to exit (cpu: user + system, median)\n")
        floor = [sys.executable, "-c", "pass"]
        _print("floor: python -c pass", _repeat(runs, lambda: _timed(floor, env)))
        _print("stagent --help", _repeat(runs, lambda: _timed([STAGENT, "--help"], env)), 0.3)
        task_list = [STAGENT, "task", "list"]
        _print("stagent task list", _repeat(runs, lambda: _timed(task_list, env)), 0.3)
        add = [STAGENT, "task", "add", "bench", "--scenario", str(scenario)]
        _print("stagent task add", _repeat(runs, lambda: _timed(add, env)))
        _print("stagent inbox", _repeat(runs, lambda: _timed([STAGENT, "inbox"], env)))
        _print("stagent task run (no server)", _repeat(runs, lambda: _run_task(env, scenario)))
        _print("stagent serve -> HTTP 200", _repeat(runs, lambda: _serve_once(env)), 1.5)
        with _serving(env):
            run_times = _repeat(runs, lambda: _run_task(env, scenario))
            _print("stagent task run (server running)", run_times, 1.0)
            follow_times = _repeat(runs, lambda: _run_task(env, scenario, "--follow"))
            _print("stagent task run --follow (server running)", follow_times, 1.0)


def _run_task(env: dict[str, str], scenario: Path, *flags: str) -> float:
    task_id = _new_task(env, scenario)
    return _timed([STAGENT, "task", "run", task_id, *flags], env)


def _serve_once(env: dict[str, str]) -> float:
    with _serving(env) as (_, seconds):
        return seconds


if __name__ == "__main__":
    main()
