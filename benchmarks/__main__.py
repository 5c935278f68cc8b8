"""Run every benchmark and print its numbers: ``python -m benchmarks [--quick]``.

Each benchmark also runs alone: ``python -m benchmarks.<name> --help``. They measure; they assert
nothing. Runtime benchmarks drive the real Claude Code CLI and Codex binary against the scripted
model servers on 127.0.0.1, one or two runs at a time (each costs 150-250 MB).
"""

from __future__ import annotations

import subprocess
import sys

QUICK_ARGS: dict[str, list[str]] = {
    "engine": ["--quick"],
    "runtime_claude": ["--repeats", "2", "--turns", "5"],
    "runtime_codex": ["--repeats", "2"],
    "approvals": ["--quick"],
    "budgets": ["--quick"],
    "events": ["--quick"],
    "writers": ["--quick"],
    "faces": ["--quick"],
    "profiles": ["--quick"],
    "schedules": ["--quick"],
    "ledger": ["--quick"],
    "scanner": ["--quick"],
    "sandbox": ["--quick"],
    "workflows": ["--quick"],
}


def main() -> None:
    """Run each benchmark module in its own process (DBOS is one per process)."""
    quick = "--quick" in sys.argv[1:]
    failed: list[str] = []
    for name, quick_args in QUICK_ARGS.items():
        module = f"benchmarks.{name}"
        try:
            __import__(module)
        except ModuleNotFoundError:
            continue
        print(f"\n== {name}", flush=True)
        args = quick_args if quick else []
        if subprocess.run([sys.executable, "-m", module, *args], check=False).returncode:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
