"""Stored scans on SQLite and PostgreSQL: duration, counts, history order, change detection."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stagent.domain.errors import NotFoundError
from stagent.testing.scan_trees import broken_tree, fake_bin, write
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgres"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "tree"
    folder = broken_tree(root)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_bin(root / 'bin')}{os.pathsep}/usr/bin:/bin")
    return folder


def test_a_stored_scan_reads_back_whole(ws: Workspace, work: Path) -> None:
    report = ws.scans.scan([work])
    assert report.id is not None
    summary = ws.scans.history()[0]
    assert summary.id == report.id
    assert summary.duration_ms == report.duration_ms > 0
    counts = report.counts()
    assert (summary.errors, summary.warnings, summary.infos) == (
        counts["error"],
        counts["warning"],
        counts["info"],
    )
    assert summary.artifact_count == len(report.artifacts)
    back = ws.scans.get(report.id)
    assert back.model_dump() == report.model_dump()
    assert ws.scans.latest() == back


def test_only_changed_scans_are_stored_when_asked(ws: Workspace, work: Path) -> None:
    first = ws.scans.scan([work], only_if_changed=True)
    again = ws.scans.scan([work], only_if_changed=True)
    assert again.id == first.id and len(ws.scans.history()) == 1
    write(work / "webapp" / ".claude" / "settings.local.json", {"permissions": {"allow": []}})
    changed = ws.scans.scan([work], only_if_changed=True)
    history = ws.scans.history()
    assert [h.id for h in history] == [changed.id, first.id]
    assert history[0].score > history[1].score  # the invalid JSON is fixed


def test_an_unknown_scan_is_not_found(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no scan"):
        ws.scans.get("scn_missing")
    assert ws.scans.latest() is None
    assert ws.scans.history() == []


def test_the_page_scans_project_folders_or_the_last_roots(ws: Workspace, work: Path) -> None:
    assert ws.scans.page_roots() == []
    ws.scans.scan([work])
    assert ws.scans.page_roots() == [work]
    ws.projects.create("api", directory=str(work / "api"))
    assert ws.scans.page_roots() == [work / "api"]
