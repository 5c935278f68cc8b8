"""Helpers for the containment tests: require bubblewrap (in CI), run a shell inside a sandbox,
a contained workspace with the real CLIs registered."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagent.domain.tasks import Task
from stagent.runtimes.codex import CodexRuntime
from stagent.runtimes.sandbox import Confinement, bwrap_argv, status
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

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


def contained_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace for attacks and caps with the real CLIs: bubblewrap required, the
    ``full-auto`` preset (every tool call allowed, so only containment and caps stand in the
    way); its worker is stopped and the workspace closed afterwards."""
    require_bubblewrap()
    workspace = Workspace.temporary(tmp_path / "stagent-home").open()
    workspace.rules.apply_preset("full-auto")
    try:
        yield workspace
    finally:
        workspace.stop_worker()
        workspace.close()


def codex_runtime(ws: Workspace, server: ScriptedOpenAIServer, key: str, model: str) -> None:
    """Register the real Codex app-server against ``server`` (no retries), in ``ws``'s
    containment, with its per-task state under ``ws``'s home."""
    ws.runtimes.register(
        CodexRuntime(
            base_url=server.base_url,
            api_key=key,
            model=model,
            state_dir=ws.settings.home / "runtimes" / "codex",
            request_max_retries=0,
            stream_max_retries=0,
            environ={"PATH": os.environ.get("PATH", os.defpath)},
            containment=ws.containment,
        )
    )


def wait_until_ended(ws: Workspace, task_id: str, timeout: float) -> Task:
    """The task once it has ended (or as it is after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    task = ws.tasks.get(task_id)
    while not task.status.is_terminal and time.monotonic() < deadline:
        time.sleep(0.2)
        task = ws.tasks.get(task_id)
    return task
