"""What the OS sandbox adds to an agent's start: ``python -m benchmarks.sandbox [--quick]``.

Starts ``/bin/true`` and the bundled Claude Code CLI's ``--version`` bare and inside the
bubblewrap confinement a real run gets (Stagent's home hidden, the run's directories bound back),
and prints the medians side by side. Target: the wrapper adds under 20 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from stagent.runtimes.sandbox import Confinement, bwrap_argv, status

TARGET_MS = 20.0


def _median_ms(argv: list[str], repeats: int) -> float:
    samples: list[float] = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _confinement(root: Path) -> Confinement:
    home = root / "home"
    run = home / "runs" / "t1" / "claude"
    project = root / "project"
    for path in (run / "config", run / "home", project):
        path.mkdir(parents=True)
    (home / "owner.token").write_text("x")
    return Confinement(
        hidden=(home,), writable=(project, run / "config", run / "home"), cwd=project
    )


def main() -> None:
    """Print bare and wrapped start times (median of N) and the difference."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    repeats = 10 if args.quick else args.repeats
    found = status("auto")
    if found.kind != "bubblewrap":
        print(f"no bubblewrap here: {found.detail}")
        return
    commands = [["/bin/true"]]
    try:
        from stagent.runtimes.claude import bundled_cli

        cli = bundled_cli()
        if cli is not None:
            commands.append([str(cli), "--version"])
    except ImportError:
        pass
    with tempfile.TemporaryDirectory(prefix="stagent-bench-sandbox-") as tmp:
        confinement = _confinement(Path(tmp))
        print(f"{'command':<28} {'bare ms':>9} {'sandboxed ms':>13} {'added ms':>9}  target")
        for argv in commands:
            bare = _median_ms(argv, repeats)
            wrapped = _median_ms(bwrap_argv(argv, confinement), repeats)
            name = " ".join([Path(argv[0]).name, *argv[1:]])
            added = wrapped - bare
            verdict = "ok" if added < TARGET_MS else "OVER"
            row = f"{name:<28} {bare:>9.1f} {wrapped:>13.1f} {added:>9.1f}"
            print(f"{row}  < {TARGET_MS:.0f} {verdict}")


if __name__ == "__main__":
    main()
