"""The claude runtime: ``python -m benchmarks.runtime_claude [--repeats N] [--turns N]``.

Prints numbers; asserts nothing. Everything runs offline: the bundled Claude Code CLI against the
scripted Anthropic server on 127.0.0.1 (simulated model, instant answers), so the numbers are
Claude Code's and Stagent's own overhead, not a model's.

- start-up: ``ClaudeRuntime.start()`` to the first event (the session's `SessionEvent`), and to
  the result of a one-reply run;
- per-turn overhead: a run of N tool turns driven by the adapter, against the same scenario driven
  by the bare SDK ``query()`` with an allow-all callback; per turn = the gap between consecutive
  model requests at the server, and the ratio adapter / bare. Once with ``Write`` (asked either
  way), once with read-only ``echo`` (which the default ``gate="all"`` sends through the gate,
  and which ``gate="claude"`` and the bare SDK let Claude Code run unasked);
- memory: resident set of the CLI child (with its descendants) and of this Python process while
  1 and 2 runs are alive at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from claude_agent_sdk import ClaudeAgentOptions, PermissionResultAllow, query

from stagent.domain.events import ResultEvent, RuntimeEvent
from stagent.runtimes.base import PermissionDecision, PermissionRequest, RunRequest
from stagent.runtimes.claude import ClaudeRun, ClaudeRuntime
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook

KEY = "sk-ant-bench-0123456789"


def scripts(turns: int) -> list[ModelScript]:
    """hello (one reply), loop (``turns`` Write calls, then a reply) and hold (a 60 s reply)."""
    loop = [
        {"tool": {"name": "Write", "input": {"file_path": f"f{i}.txt", "content": str(i)}}}
        for i in range(turns)
    ]
    echo = [{"tool": {"name": "Bash", "input": {"command": f"echo {i}"}}} for i in range(turns)]
    data: list[dict[str, Any]] = [
        {"name": "hello", "turns": [{"text": "Hello."}]},
        {"name": "loop", "turns": [*loop, {"text": "Done."}]},
        {"name": "echo", "turns": [*echo, {"text": "Done."}]},
        {"name": "hold", "turns": [{"text": "late", "delay": 60}]},
    ]
    return [ModelScript.model_validate(item) for item in data]


class AllowAll:
    """Allows every call (the bare loop allows everything too, so both do the same work)."""

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        del request
        return PermissionDecision(allowed=True, decided_by="benchmark")


def request(
    server: AnthropicScriptServer, scenario: str, home: Path, task: str, gate: str = "all"
) -> RunRequest:
    work = home / task / "work"
    work.mkdir(parents=True)
    env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": KEY}
    return RunRequest(
        task_id=task,
        prompt=f"SCENARIO:{scenario} go",
        working_directory=str(work),
        config={"_home": str(home), "gate": gate},
        env=env,
    )


async def startup(server: AnthropicScriptServer, home: Path, repeats: int) -> None:
    first: list[float] = []
    result: list[float] = []
    for i in range(repeats):
        began = time.perf_counter()
        run = await ClaudeRuntime().start(request(server, "hello", home, f"s{i}"), AllowAll())
        async for event in run.events():
            if len(first) == i:
                first.append(time.perf_counter() - began)
            if isinstance(event, ResultEvent):
                result.append(time.perf_counter() - began)
    print(f"start-up to first event:  median {ms(first)} ms  (min {ms(first, min)})")
    print(f"start-up to result:       median {ms(result)} ms  (min {ms(result, min)})")


def gaps(server: AnthropicScriptServer, scenario: str) -> list[float]:
    times = [r["at"] for r in server.requests if r["scenario"] == scenario]
    server.requests.clear()
    return [b - a for a, b in zip(times, times[1:], strict=False)]


async def adapter_turns(
    server: AnthropicScriptServer, home: Path, task: str, scenario: str, gate: str = "all"
) -> list[float]:
    run = await ClaudeRuntime().start(request(server, scenario, home, task, gate), AllowAll())
    events: list[RuntimeEvent] = [event async for event in run.events()]
    assert isinstance(events[-1], ResultEvent), events[-1]
    return gaps(server, scenario)


async def bare_turns(
    server: AnthropicScriptServer, home: Path, task: str, scenario: str
) -> list[float]:
    req = request(server, scenario, home, task)
    (home / task / "cfg").mkdir()

    async def allow(*_: Any) -> PermissionResultAllow:
        return PermissionResultAllow()

    env = {
        **req.env,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "HOME": str(home / task),
        "CLAUDE_CONFIG_DIR": str(home / task / "cfg"),
    }
    options = ClaudeAgentOptions(
        cwd=req.working_directory,
        env=env,
        can_use_tool=allow,
        system_prompt={"type": "preset", "preset": "claude_code"},
    )
    async for _ in query(prompt=req.prompt, options=options):
        pass
    return gaps(server, scenario)


async def per_turn(server: AnthropicScriptServer, home: Path, repeats: int, turns: int) -> None:
    ours: list[float] = []
    bare: list[float] = []
    for i in range(repeats):
        ours += await adapter_turns(server, home, f"a{i}", "loop")
        bare += await bare_turns(server, home, f"b{i}", "loop")
    ratio = statistics.median(ours) / statistics.median(bare)
    print(f"per tool turn, {turns} Write turns (always asked) x {repeats} runs:")
    print(f"  adapter {ms(ours)} ms, bare query() {ms(bare)} ms: ratio {ratio:.2f}")
    gated: list[float] = []
    trusted: list[float] = []
    bare = []
    for i in range(repeats):
        gated += await adapter_turns(server, home, f"e{i}", "echo")
        trusted += await adapter_turns(server, home, f"c{i}", "echo", gate="claude")
        bare += await bare_turns(server, home, f"d{i}", "echo")
    print(f"per tool turn, {turns} read-only Bash turns (Claude Code runs them unasked):")
    print(
        f"  adapter gate=all {ms(gated)} ms, gate=claude {ms(trusted)} ms, bare query() "
        f"{ms(bare)} ms: ratios {ratio_of(gated, bare)} / {ratio_of(trusted, bare)}"
    )


def ratio_of(ours: list[float], bare: list[float]) -> str:
    return f"{statistics.median(ours) / statistics.median(bare):.2f}"


def rss_kb(pid: int) -> int:
    """Resident set of ``pid`` and its descendants, in KiB (Linux /proc)."""
    total = 0
    for proc in [pid, *descendants(pid)]:
        try:
            status = Path(f"/proc/{proc}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid:
            child = int(entry.name)
            found += [child, *descendants(child)]
    return found


async def memory(server: AnthropicScriptServer, home: Path, count: int) -> None:
    runs: list[ClaudeRun] = []
    consumers: list[asyncio.Task[list[RuntimeEvent]]] = []
    for i in range(count):
        run = await ClaudeRuntime().start(
            request(server, "hold", home, f"m{count}-{i}"), AllowAll()
        )
        assert isinstance(run, ClaudeRun)
        runs.append(run)

        async def drain(run: ClaudeRun = run) -> list[RuntimeEvent]:
            return [event async for event in run.events()]

        consumers.append(asyncio.create_task(drain()))
    while sum(r["scenario"] == "hold" for r in server.requests) < count:
        await asyncio.sleep(0.05)
    cli = [rss_kb(run.pid) for run in runs if run.pid is not None]
    python = rss_kb_self()
    for run in runs:
        await run.cancel()
    await asyncio.gather(*consumers)
    server.requests.clear()
    per_cli = statistics.mean(cli) / 1024
    print(
        f"memory with {count} concurrent run(s): CLI child {per_cli:.0f} MiB each, "
        f"this Python process {python / 1024:.0f} MiB"
    )


def rss_kb_self() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def ms(values: list[float], pick: Any = statistics.median) -> str:
    return f"{pick(values) * 1000:.0f}"


async def main(repeats: int, turns: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        AnthropicScriptServer(ScriptBook(scripts(turns))) as server,
    ):
        home = Path(tmp)
        print(f"claude runtime, Claude Code CLI against the scripted server ({server.url})")
        await startup(server, home, repeats)
        await per_turn(server, home, max(1, repeats // 2), turns)
        for count in (1, 2):
            await memory(server, home, count)


if __name__ == "__main__":
    # The SDK logs each cancelled run's killed CLI at ERROR; that is the expected way out here.
    logging.getLogger("claude_agent_sdk").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description="Benchmark the claude runtime offline.")
    parser.add_argument("--repeats", type=int, default=5, help="runs per start-up measurement")
    parser.add_argument("--turns", type=int, default=10, help="tool turns per per-turn run")
    args = parser.parse_args()
    asyncio.run(main(args.repeats, args.turns))
