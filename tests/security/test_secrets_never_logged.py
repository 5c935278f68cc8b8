"""Secrets never reach the event log; Stagent's own files are readable by their owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_owner_token_and_configured_secrets_are_scrubbed_from_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_API_KEY", "acme-secret-0123456789")
    ws = Workspace.temporary(tmp_path / "ws").open()
    ws.start_worker("worker")
    try:
        token = ws.owner_token()
        ws.rules.add("Bash(cat *)")
        task = ws.tasks.create(
            TaskDraft(
                title="leak",
                scenario={
                    "steps": [
                        {
                            "tool": "Bash",
                            "input": {"command": "cat notes.txt"},
                            "output": f"{token}\nacme-secret-0123456789",
                        },
                        {"text": f"I found {token}"},
                    ],
                    "result": f"token={token}",
                },
            )
        )
        ws.tasks.run(task.id)
        assert ws.tasks.wait(task.id, timeout=30).status is TaskStatus.COMPLETED
        events = ws.tasks.events(task.id)
        logged = repr([event.payload for event in events])
        assert token not in logged and "acme-secret-0123456789" not in logged
        output = next(e for e in events if e.kind == "tool_result").payload["output"]
        assert output == "[redacted]\n[redacted]"
        assert "I found [redacted]" in logged
        assert ws.tasks.get(task.id).result == "token=[redacted]"
    finally:
        ws.stop_worker()
        ws.close()


def test_the_database_its_wal_and_shm_and_the_token_are_0600(tmp_path: Path) -> None:
    ws = Workspace.temporary(tmp_path / "fresh-home").open()
    try:
        ws.tasks.create(TaskDraft(title="write something"))
        database = ws.settings.sqlite_path
        assert database is not None
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm"), ws.owner_token_path]
        assert all(path.exists() for path in files)
        assert {str(p.name): _mode(p) for p in files} == {str(p.name): 0o600 for p in files}
        assert _mode(ws.settings.home) == 0o700
    finally:
        ws.close()


def test_an_existing_readable_database_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    database = home / "stagent.sqlite"
    database.touch(mode=0o644)
    database.chmod(0o644)
    Workspace.temporary(home).open().close()
    assert _mode(database) == 0o600
