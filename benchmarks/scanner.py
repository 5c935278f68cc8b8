"""Environment scanner speed: ``python -m benchmarks.scanner [--quick] [--profile]``.

Generates two trees in a temp folder, modelled on real Claude Code and Codex layouts:

- *typical*: the user level of both tools plus one project (about 60 artifacts);
- *50 projects*: the same user level plus 50 projects under one folder (about 3,000 artifacts).

For each it prints the median of a *cold* scan (a new `Scanner`, nothing cached; the OS page
cache is warm, as on any second run), of a *re-scan* of the unchanged tree (the same `Scanner`:
parses reused while size and mtime are unchanged), and beside them the floor measured in the same
run: a bare recursive ``os.scandir`` walk of the same tree that only lists entries. Targets from
issue 13: typical 3 ms cold / 0.5 ms re-scan; 50 projects 100 ms / 20 ms.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from stagent.scanner import Locations, Scanner
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


def measure(
    name: str, root: Path, projects: int, repeats: int, profile: bool, scale: float = 1.0
) -> None:
    """Build one tree and print its medians."""
    work = build(root, projects, scale)
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


def main() -> None:
    """Build the trees, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--profile", action="store_true", help="print cProfile tables too")
    args = parser.parse_args()
    repeats = 5 if args.quick else 21
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        os.environ["PATH"] = f"{fake_bin(base / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}"
        measure("typical environment", base / "typical", 1, repeats, args.profile, 0.6)
        measure("50 projects", base / "fifty", 50, max(3, repeats // 3), args.profile)
    print("targets: typical 3 ms cold / 0.5 ms re-scan; 50 projects 100 ms / 20 ms")


if __name__ == "__main__":
    main()
