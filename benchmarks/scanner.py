"""Environment scanner speed: ``python -m benchmarks.scanner [--quick] [--profile]``.

Generates two trees in a temp folder, modelled on real Claude Code and Codex layouts:

- *typical*: the user level of both tools plus one project (about 60 artifacts);
- *50 projects*: the same user level plus 50 projects under one folder (about 3,000 artifacts).

For each it prints the median of a *cold* scan (a new `Scanner`, nothing cached; the OS page
cache is warm, as on any second run), of a *re-scan* of the unchanged tree (the same `Scanner`:
parses reused while size, mtime, ctime and inode are unchanged; the trees are left to settle for
`RACY_NS` first, as a tree nobody is editing is), and beside them the floor measured in the same
run: a bare recursive ``os.scandir`` walk of the same tree that only lists entries. Targets from
issue 13: typical 3 ms cold / 0.5 ms re-scan; 50 projects 100 ms / 20 ms.

``--instructions`` counts instructions instead (valgrind's callgrind: independent of the load
other processes put on the machine): each figure is the difference between a run with N
operations and one with none, divided by N. It converts them to milliseconds with a calibration
taken in the same run: a fixed pure-Python workload's instruction count against its minimum CPU
time over many repetitions. Callgrind sees user-space instructions only; the time the kernel
spends in system calls is in the CPU minimum printed beside it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stagent.scanner import Locations, Scanner
from stagent.scanner.fscache import RACY_NS
from stagent.testing.scan_trees import (
    AGENTS_MD,
    CLAUDE_MD,
    COMMAND,
    RULE,
    SKILL_RELEASE,
    SUBAGENT,
    fake_bin,
    user_level,
    write,
)


def project(folder: Path, index: int, scale: float = 1.0) -> None:
    """One project of about 60 artifacts (``scale`` shrinks the repeated kinds): skills,
    subagents, commands, rules, MCP servers, hooks, docs."""
    write(folder / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(folder / "CLAUDE.md", CLAUDE_MD)
    write(folder / "AGENTS.md", AGENTS_MD)
    write(folder / "CLAUDE.local.md", "- my local notes\n")
    for n in range(round(14 * scale)):
        name = f"skill-{n}"
        body = SKILL_RELEASE.replace("release", name).replace("Cut", f"Cut {index}")
        write(folder / ".claude" / "skills" / name / "SKILL.md", body)
        if n < 6:
            write(
                folder / ".agents" / "skills" / f"codex-{n}" / "SKILL.md",
                body.replace(name, f"codex-{n}"),
            )
    for n in range(round(8 * scale)):
        write(
            folder / ".claude" / "agents" / f"agent-{n}.md",
            SUBAGENT.format(name=f"agent-{n}", description="Reviews things."),
        )
        write(folder / ".claude" / "commands" / f"cmd-{n}.md", COMMAND)
    for n in range(round(6 * scale)):
        write(folder / ".claude" / "rules" / f"rule-{n}.md", RULE)
    servers = {
        f"srv-{n}": {"command": "npx", "args": ["-y", f"pkg-{n}"], "env": {"TOKEN": "${TOKEN}"}}
        for n in range(7)
    }
    write(folder / ".mcp.json", {"mcpServers": servers})
    hook = {"type": "command", "command": '"$CLAUDE_PROJECT_DIR"/.claude/hooks/fmt.sh'}
    write(
        folder / ".claude" / "settings.json",
        {
            "permissions": {"allow": ["Bash(npm test)"], "deny": ["Read(./.env)"]},
            "hooks": {
                e: [{"matcher": "Edit", "hooks": [hook]}] for e in ("PreToolUse", "PostToolUse")
            },
        },
    )
    write(folder / ".claude" / "hooks" / "fmt.sh", "#!/bin/sh\n", executable=True)
    write(folder / ".codex" / "config.toml", '[mcp_servers.pw]\ncommand = "npx"\nargs = ["pw"]\n')
    for sub in ("src", "docs", "tests"):
        write(folder / sub / "index.ts", "export {};\n")
    write(folder / "packages" / "ui" / "CLAUDE.md", "# ui\n")
    write(folder / "node_modules" / "dep" / "index.js", "\n")


def build(root: Path, projects: int, scale: float = 1.0) -> Path:
    """A home folder and ``projects`` projects under ``root/work``."""
    user_level(root)
    for i in range(projects):
        project(root / "work" / f"project-{i:02d}", i, scale)
    return root / "work"


def scandir_floor(folder: str) -> int:
    """List every entry under ``folder`` with os.scandir (no stat, no reads): the floor."""
    count = 0
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return count


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of ``fn`` in milliseconds (CPU time is what the
    scan itself costs; on a busy machine wall time also counts waiting for a core)."""
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - start_cpu) * 1000)
        wall.append((time.perf_counter() - start) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def measure(name: str, root: Path, repeats: int, profile: bool) -> None:
    """Print the medians of the tree at ``root`` (see `build`)."""
    work = root / "work"
    loc = Locations.from_env({"HOME": str(root / "home")})
    roots = [work]
    warm = Scanner(loc)
    report = warm.scan(roots)
    cold = median_ms(lambda: Scanner(loc).scan(roots), repeats)
    rescan = median_ms(lambda: warm.scan(roots), repeats * 5)
    floor = median_ms(
        lambda: (scandir_floor(str(root / "home")), scandir_floor(str(work))), repeats * 5
    )
    reported = statistics.median(warm.scan(roots).duration_ms for _ in range(repeats))
    print(
        f"{name}: {len(report.artifacts)} artifacts, {len(report.projects)} projects, "
        f"{len(report.findings)} findings"
    )
    dump = median_ms(lambda: warm.scan(roots).model_dump_json(), repeats)
    rows = (
        ("cold scan", cold, ""),
        ("re-scan", rescan, f"the report's own duration_ms: {reported:.2f}"),
        ("floor", floor, "a bare os.scandir walk of the same tree"),
        ("re-scan+JSON", dump, "what `stagent scan --json` adds"),
    )
    print("                 wall median    CPU median")
    for label, (wall, cpu), note in rows:
        print(f"  {label:13} {wall:9.2f} ms  {cpu:9.2f} ms   {note}")
    if profile:
        for label, fn in (
            ("cold", lambda: Scanner(loc).scan(roots)),
            ("re-scan", lambda: warm.scan(roots)),
        ):
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(5):
                fn()
            prof.disable()
            print(f"  -- profile of {label} (5 runs), top 12 by own time")
            pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def calibration(n: int = 200_000) -> int:
    """A fixed pure-Python workload (the instruction-to-milliseconds calibration)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def child(root: Path, mode: str, count: int) -> None:
    """Run ``count`` operations of ``mode`` on the tree at ``root`` (under callgrind)."""
    if mode == "calibration":
        for _ in range(count):
            calibration()
        return
    loc = Locations.from_env({"HOME": str(root / "home")})
    roots = [root / "work"]
    warm = Scanner(loc)
    warm.scan(roots)
    for _ in range(count):
        if mode == "cold":
            Scanner(loc).scan(roots)
        elif mode == "re-scan":
            warm.scan(roots)
        else:
            scandir_floor(str(root / "home"))
            scandir_floor(str(root / "work"))


def _callgrind(root: Path, mode: str, count: int) -> int:
    out = root.parent / f"callgrind.{mode}.{count}"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    cmd += [sys.executable, "-m", "benchmarks.scanner", "--child", str(root), mode, str(count)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise SystemExit(f"callgrind printed no total:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def per_op(root: Path, mode: str, count: int) -> float:
    """Instructions of one ``mode`` operation: (N operations - none) / N."""
    return (_callgrind(root, mode, count) - _callgrind(root, mode, 0)) / count


def min_cpu_ms(fn: Callable[[], object], repeats: int) -> float:
    """The minimum CPU time of ``fn`` in milliseconds (the least disturbed run)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best * 1000


def instructions(base: Path) -> None:
    """Instruction counts per operation, converted to ms with the same run's calibration."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    cal_instr = per_op(base, "calibration", 3)
    cal_ms = min_cpu_ms(calibration, 30)
    rate = cal_instr / cal_ms
    print(
        f"calibration: {cal_instr / 1e6:.1f}M instructions in {cal_ms:.2f} ms (min CPU of 30) "
        f"= {rate / 1e6:.2f}M instructions per ms; load average {os.getloadavg()[0]:.1f}"
    )
    for name, projects, scale, reps, targets in (
        ("typical", 1, 0.6, 20, (3.0, 0.5)),
        ("fifty", 50, 1.0, 2, (100.0, 20.0)),
    ):
        _instructions_of(base / name, projects, scale, reps, rate, targets)


def _instructions_of(
    root: Path, projects: int, scale: float, reps: int, rate: float, targets: tuple[float, float]
) -> None:
    build(root, projects, scale)
    time.sleep(RACY_NS / 1e9)
    loc = Locations.from_env({"HOME": str(root / "home")})
    roots = [root / "work"]
    warm = Scanner(loc)
    warm.scan(roots)

    def floor_fn() -> object:
        return scandir_floor(str(root / "home")), scandir_floor(str(root / "work"))

    timed: dict[str, Callable[[], object]] = {
        "cold": lambda: Scanner(loc).scan(roots),
        "re-scan": lambda: warm.scan(roots),
    }
    floor_instr = per_op(root, "floor", reps * 5)
    floor_cpu = min_cpu_ms(floor_fn, reps * 10)
    print(
        f"{root.name}: floor (bare os.scandir walk) {floor_instr / 1e6:8.2f}M instr "
        f"= {floor_instr / rate:7.2f} ms; min CPU {floor_cpu:7.2f} ms"
    )
    for mode, target in zip(("cold", "re-scan"), targets, strict=True):
        instr = per_op(root, mode, reps if mode == "cold" else reps * 5)
        cpu = min_cpu_ms(timed[mode], reps * 10)
        print(
            f"  {mode:8} {instr / 1e6:8.2f}M instr = {instr / rate:7.2f} ms "
            f"(with system calls: min CPU {cpu:7.2f} ms); target {target} ms"
        )


def main() -> None:
    """Build the trees, measure, print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables too")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with callgrind"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), args.child[1], int(args.child[2]))
        return
    if args.instructions:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            os.environ["PATH"] = f"{fake_bin(base / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}"
            instructions(base)
        return
    repeats = 5 if args.quick else 21
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["PATH"] = f"{fake_bin(base / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}"
        build(base / "typical", 1, 0.6)
        build(base / "fifty", 50)
        time.sleep(RACY_NS / 1e9)  # let every stat settle: a re-scan then reuses them all
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        measure("typical environment", base / "typical", repeats, args.profile)
        measure("50 projects", base / "fifty", max(3, repeats // 3), args.profile)
    print("targets: typical 3 ms cold / 0.5 ms re-scan; 50 projects 100 ms / 20 ms")


if __name__ == "__main__":
    main()
