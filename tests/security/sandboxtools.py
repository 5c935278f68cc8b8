"""Helpers for the containment tests: require bubblewrap (in CI), run a shell inside a sandbox."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from stagent.runtimes.sandbox import Confinement, bwrap_argv, status

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_bubblewrap() -> None:
    """Skip without a working bubblewrap, except in CI, where `.ci/run` installs it."""
    found = status("auto")
    if found.kind == "bubblewrap":
        return
    if IN_CI:
        pytest.fail(f"bubblewrap is required in CI: {found.detail}")
    pytest.skip(found.detail)


def sh(script: str, confinement: Confinement) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with bash inside ``confinement``; output and exit code returned."""
    argv = bwrap_argv(["bash", "-c", script], confinement)
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content (to prove nothing changed)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
