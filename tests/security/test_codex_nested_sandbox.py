"""Codex's own sandbox inside Stagent's, on a host where Codex never ran and on one where a
Codex daemon of the user's own is listening.

Codex 0.163's Linux sandbox wants ``/tmp/codex-daemon-<uid>`` (its app-server socket directory,
a fixed path) before every command. Where it was missing, Stagent's read-only ``/tmp`` made
Codex fail to build its sandbox ("error building bubblewrap command: Read-only file system")
and re-run each approved command *without* it; where it existed, a contained agent saw a host
daemon's socket there. Stagent now gives the app-server an empty private directory on that path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from attacks import attack_script
from sandboxtools import codex_runtime, contained_workspace, require_bubblewrap, wait_until_ended

import stagent
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes._codex_config import daemon_dir
from stagent.runtimes.codex import bundled_codex
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow
KEY = "sk-test-codex-nested-0123456789"
MODEL = "gpt-5.5"
DRIVER = Path(__file__).with_name("codex_fresh_host.py")


def on_a_fresh_host(tmp_path: Path, *args: str) -> dict[str, Any]:
    """``codex_fresh_host.py`` run where ``/tmp`` is empty but for what this test needs."""
    require_bubblewrap()
    needed = [tmp_path, DRIVER.parent, Path(stagent.__file__).parent, Path(sys.prefix)]
    needed.append(Path(str(bundled_codex())).parent)
    keep = sorted(
        {p.resolve() for p in needed if p.resolve().is_relative_to("/tmp")},
        key=lambda p: len(p.parts),
    )
    host = [shutil.which("bwrap") or "bwrap", "--bind", "/", "/", "--tmpfs", "/tmp"]
    for path in keep:
        host += ["--bind", str(path), str(path)]
    host += ["--dev", "/dev", "--proc", "/proc", "--die-with-parent", "--"]
    argv = [*host, sys.executable, str(DRIVER), str(tmp_path), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_codex_s_sandbox_builds_where_its_socket_folder_was_missing(tmp_path: Path) -> None:
    script = 'echo hi; echo planted > "$HOME/planted.txt"; echo exit=$?'
    done = on_a_fresh_host(tmp_path, "codex", "sandbox", "--", "bash", "-lc", script)
    # old: exit 1, "error building bubblewrap command: Read-only file system (os error 30)"
    assert done["rc"] == 0, done
    assert done["out"].split() == ["hi", "exit=1"]  # Codex's workspace-write: HOME read-only
    assert "Read-only file system" in done["err"]


def test_a_host_codex_daemon_s_socket_is_out_of_reach(tmp_path: Path) -> None:
    done = on_a_fresh_host(tmp_path, "--plant", "ls", "-A", str(daemon_dir()))
    assert done == {"rc": 0, "out": "", "err": ""}  # old: host.sock


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from contained_workspace(tmp_path)


def test_a_contained_run_s_commands_stay_in_codex_s_sandbox(ws: Workspace, tmp_path: Path) -> None:
    ws.start_worker()
    commands = {
        "echo": "echo call 0",
        # Stagent's sandbox lets the run write its HOME; Codex's workspace-write does not.
        **{f"home-{n}": f'echo planted > "$HOME/planted-{n}.txt"; echo exit=$?' for n in range(2)},
    }
    script = attack_script("nested", MODEL, commands, yield_time_ms=90_000)
    with ScriptedOpenAIServer([script], log_path=tmp_path / "requests.jsonl") as server:
        codex_runtime(ws, server, KEY, MODEL)
        task = ws.tasks.create(TaskDraft(title="SCENARIO:nested run commands", runtime="codex"))
        ws.tasks.run(task.id)
        done = wait_until_ended(ws, task.id, 300)

    assert done.status is TaskStatus.COMPLETED, done.error
    events = ws.tasks.events(task.id)
    results = [str(e.payload.get("output", "")) for e in events if e.kind == "tool_result"]
    assert len(results) == 3, results
    assert results[0].strip() == "call 0"
    # old, where the host had no /tmp/codex-daemon-<uid>: Codex re-ran these unsandboxed (exit=0)
    for result in results[1:]:
        assert "Read-only file system" in result and "exit=1" in result, results
    assert daemon_dir().stat().st_mode & 0o777 == 0o700  # made on the host, as Codex would
