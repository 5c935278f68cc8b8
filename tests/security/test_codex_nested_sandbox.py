"""Codex's own sandbox inside Stagent's, for a user who never ran Codex outside Stagent.

Codex 0.163's Linux sandbox creates ``/tmp/codex-daemon-<uid>`` (a fixed path, not under
``TMPDIR``) before every shell command. Where ``/tmp`` was read-only (Stagent's sandbox before it
gave Codex a private ``/tmp``) and that folder did not exist yet on the host, Codex's sandbox
could not be built ("error building bubblewrap command: Read-only file system (os error 30)").
The host here is
the real one seen through an outer bubblewrap with an empty ``/tmp`` (so the test neither needs nor
touches the machine's own ``/tmp/codex-daemon-<uid>``); the real Codex app-server runs inside
Stagent's sandbox as usual, against the scripted model server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from attacks import attack_script
from sandboxtools import codex_runtime, contained_workspace, wait_until_ended

from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.sandbox import SandboxPolicy
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow
KEY = "sk-test-codex-nested-0123456789"
MODEL = "gpt-5.5"


@dataclass(frozen=True, slots=True)
class FreshHostTmp(SandboxPolicy):
    """Stagent's policy, run on a host whose ``/tmp`` holds only ``keep`` (the test's files)."""

    keep: tuple[Path, ...] = ()

    def confine(
        self,
        argv: list[str],
        *,
        writable: tuple[Path, ...],
        cwd: Path | None,
        hidden: tuple[Path, ...] = (),
        tmpdir: Path | None = None,
        private_tmp: bool = False,
    ) -> list[str]:
        inner = SandboxPolicy.confine(
            self,
            argv,
            writable=writable,
            cwd=cwd,
            hidden=hidden,
            tmpdir=tmpdir,
            private_tmp=private_tmp,
        )
        host = [shutil.which("bwrap") or "bwrap", "--bind", "/", "/", "--tmpfs", "/tmp"]
        for path in self.keep:
            host += ["--bind", str(path), str(path)]
        return [*host, "--dev", "/dev", "--proc", "/proc", "--die-with-parent", "--", *inner]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from contained_workspace(tmp_path)


def test_codex_commands_work_on_a_host_where_codex_never_ran(ws: Workspace, tmp_path: Path) -> None:
    ws.start_worker()
    policy = ws.containment
    ws.containment = FreshHostTmp(
        mode=policy.mode,
        hidden=policy.hidden,
        hidden_files=policy.hidden_files,
        keep=(tmp_path.resolve(),),
    )
    leak = Path(f"/tmp/stagent-nested-{tmp_path.name}")
    commands = {
        "echo": "echo call 0",
        "tmpdir": 'echo kept > "$TMPDIR/note.txt" && cat "$TMPDIR/note.txt"',
        "slash-tmp": f"echo leaked > {leak}",
        # Stagent's sandbox lets the run write its HOME; Codex's workspace-write does not.
        **{f"home-{n}": f'echo planted > "$HOME/planted-{n}.txt"' for n in range(3)},
    }
    script = attack_script("nested", MODEL, commands, yield_time_ms=90_000)
    with ScriptedOpenAIServer([script], log_path=tmp_path / "requests.jsonl") as server:
        codex_runtime(ws, server, KEY, MODEL)
        task = ws.tasks.create(TaskDraft(title="SCENARIO:nested run commands", runtime="codex"))
        ws.tasks.run(task.id)
        done = wait_until_ended(ws, task.id, 300)

    assert done.status is TaskStatus.COMPLETED, done.error
    results = [
        str(e.payload.get("output", "")).strip()
        for e in ws.tasks.events(task.id)
        if e.kind == "tool_result"
    ]
    assert len(results) == 6, results
    assert results[:2] == ["call 0", "kept"], results
    assert not leak.exists()  # the host's own /tmp
    # Codex's own sandbox: on the old code its first, sandboxed attempt of each approved command
    # failed to build here and Codex re-ran the command without it (these writes succeeded);
    # with the private /tmp it builds, but Codex 0.163 still re-runs commands unsandboxed in
    # some runs (cause not pinned; AGENTS.md "Where the work stands"), so that is not asserted.
