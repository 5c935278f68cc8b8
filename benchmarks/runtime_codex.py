"""The codex runtime: ``python -m benchmarks.runtime_codex [--repeats N]``.

Prints numbers; asserts nothing. Everything runs offline: the pinned Codex binary against the
scripted OpenAI Responses server on 127.0.0.1 (simulated model, instant answers), so the
numbers are Codex's and Stagent's own overhead, not a model's.

- start-up: ``CodexRuntime.start()`` to the first event (the thread's `SessionEvent`), and to
  the result of a one-reply run;
- per-turn overhead: a turn with one approved command (two model requests) driven by the
  adapter against the same launch driven by a bare JSON-RPC loop that auto-accepts; the
  time from the thread being ready to the turn ending, and the ratio;
- memory: resident set of the app-server (with its process group) and of this Python process
  while 1 and 2 runs are alive at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from stagent.domain.events import ResultEvent, RuntimeEvent
from stagent.runtimes._codex_run import CodexRun
from stagent.runtimes.base import PermissionDecision, PermissionRequest, RunRequest
from stagent.runtimes.codex import CodexRuntime
from stagent.testing.model_script import ModelScript
from stagent.testing.openai_server import ScriptedOpenAIServer

MODEL = "gpt-5.5"
SCRIPTS = [
    ModelScript.model_validate(data)
    for data in (
        {"name": "hello", "turns": [{"text": "Hello."}]},
        {
            "name": "command",
            "turns": [
                {"tool": {"name": "Bash", "input": {"command": "echo hi > out.txt"}}},
                {"text": "Done."},
            ],
        },
        {"name": "hold", "turns": [{"text": "late", "delay": 30}]},
    )
]


class AllowAll:
    """Allows every call (the bare loop auto-accepts too, so both do the same work)."""

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        del request
        return PermissionDecision(allowed=True, decided_by="benchmark")


def runtime(server: ScriptedOpenAIServer, state: Path) -> CodexRuntime:
    return CodexRuntime(
        base_url=server.base_url,
        api_key="sk-benchmark",
        model=MODEL,
        state_dir=state,
        request_max_retries=0,
        stream_max_retries=0,
        environ={"PATH": os.environ.get("PATH", os.defpath)},
    )


def request(scenario: str, workdir: Path, number: int) -> RunRequest:
    return RunRequest(
        task_id=f"bench-{scenario}-{number}",
        prompt=f"SCENARIO:{scenario}",
        working_directory=str(workdir),
    )


async def adapter_run(codex: CodexRuntime, req: RunRequest) -> tuple[float, float, float]:
    """(start -> first event, first event -> result, total) in seconds."""
    started = time.perf_counter()
    run = await codex.start(req, AllowAll())
    first = ready = 0.0
    async for event in run.events():
        now = time.perf_counter()
        if not first:
            first = ready = now
        if isinstance(event, ResultEvent):
            break
        check_event(event)
    done = time.perf_counter()
    assert isinstance(run, CodexRun)
    await run.wait_closed()
    return first - started, done - ready, done - started


def check_event(event: RuntimeEvent) -> None:
    if event.kind == "error":
        raise SystemExit(f"benchmark run failed: {event}")


async def bare_run(codex: CodexRuntime, req: RunRequest) -> tuple[float, float, float]:
    """The same launch driven by a minimal JSON-RPC loop: (spawn -> thread ready, turn, total)."""
    plan = codex.plan(req)
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *plan.argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=plan.env,
        cwd=plan.cwd,
        limit=64 * 1024 * 1024,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def send(message: dict[str, Any]) -> None:
        stdin.write((json.dumps(message) + "\n").encode())

    async def call(number: int, method: str, params: dict[str, Any]) -> dict[str, Any]:
        send({"id": number, "method": method, "params": params})
        while True:
            message = json.loads(await stdout.readline())
            if message.get("id") == number and "method" not in message:
                return message["result"]

    await call(1, "initialize", {"clientInfo": {"name": "bench", "version": "0"}})
    send({"method": "initialized"})
    thread = await call(
        2,
        "thread/start",
        {
            "cwd": plan.cwd,
            "approvalPolicy": "untrusted",
            "approvalsReviewer": "user",
            "sandbox": plan.sandbox,
        },
    )
    ready = time.perf_counter()
    prompt = [{"type": "text", "text": plan.prompt}]
    send(
        {
            "id": 3,
            "method": "turn/start",
            "params": {"threadId": thread["thread"]["id"], "input": prompt},
        }
    )
    while True:
        message = json.loads(await stdout.readline())
        if "id" in message and "method" in message:
            send({"id": message["id"], "result": {"decision": "accept"}})
        elif message.get("method") == "turn/completed":
            break
    stdin.close()
    await process.wait()
    done = time.perf_counter()
    plan.dirs.remove()
    return ready - started, done - ready, done - started


def rss_kb(pid: int) -> int:
    """Resident set of ``pid`` and every process in its process group, in KiB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pid and int(entry.name) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


def own_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def memory(codex: CodexRuntime, workdir: Path, concurrent: int) -> tuple[int, int]:
    """(app-server RSS per run, total including this Python process) in MiB, runs alive."""
    runs: list[CodexRun] = []
    for number in range(concurrent):
        run = await codex.start(request("hold", workdir, 900 + number), AllowAll())
        assert isinstance(run, CodexRun)
        runs.append(run)
    await asyncio.sleep(2.0)  # each has its thread open and a model request in flight
    servers = [rss_kb(run.pid) for run in runs if run.pid]
    total = sum(servers) + own_rss_kb()
    for run in runs:
        await run.cancel()
    return round(statistics.mean(servers) / 1024), round(total / 1024)


def median(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


async def main(repeats: int) -> None:
    with (
        ScriptedOpenAIServer(SCRIPTS) as server,
        tempfile.TemporaryDirectory(prefix="stagent-bench-") as scratch,
    ):
        root = Path(scratch)
        workdir = root / "work"
        workdir.mkdir()
        codex = runtime(server, root / "state")
        version = (await codex.health()).version
        print(
            f"codex runtime benchmark ({version}, scripted model on 127.0.0.1, {repeats} runs each)"
        )

        starts = [await adapter_run(codex, request("hello", workdir, i)) for i in range(repeats)]
        print(f"start-up to first event (SessionEvent):      {median([s[0] for s in starts])}")
        print(f"start-up to result, one-reply run:           {median([s[2] for s in starts])}")

        ours = [await adapter_run(codex, request("command", workdir, i)) for i in range(repeats)]
        bare = [await bare_run(codex, request("command", workdir, 100 + i)) for i in range(repeats)]
        turn_ours = statistics.median(o[1] for o in ours)
        turn_bare = statistics.median(b[1] for b in bare)
        print(f"turn with one approved command, bare JSON-RPC: {median([b[1] for b in bare])}")
        print(f"turn with one approved command, adapter:       {median([o[1] for o in ours])}")
        print(f"adapter / bare, turn:                          {turn_ours / turn_bare:7.2f}x")
        total_ratio = statistics.median(o[2] for o in ours) / statistics.median(b[2] for b in bare)
        print(f"adapter / bare, whole run (spawn to exit):     {total_ratio:7.2f}x")

        for concurrent in (1, 2):
            per_run, total = await memory(codex, workdir, concurrent)
            print(
                f"memory, {concurrent} concurrent run(s): app-server {per_run} MiB each, "
                f"total with Python {total} MiB"
            )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.repeats))


if __name__ == "__main__":
    cli()
