"""Stored scans on SQLite and PostgreSQL: duration, counts, history order, change detection."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stagent.domain.errors import NotFoundError
from stagent.scanner import ScanReport
from stagent.scanner.service import Retention, ScanService
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


def dated(report: ScanReport, days_ago: float) -> ScanReport:
    """The same report as if it had been made ``days_ago`` days ago."""
    return report.model_copy(
        update={"id": None, "scanned_at": datetime.now(UTC) - timedelta(days=days_ago)}
    )


def test_each_stored_scan_prunes_the_history_to_its_retention(ws: Workspace, work: Path) -> None:
    scans = ScanService(ws.store, keep=3, keep_days=30)
    report = scans.scan([work], save=False)
    stored = []
    for days_ago in (4, 3, 2, 1, 0):
        copy = dated(report, days_ago)
        scans.store(copy)
        stored.append(copy.id)
    assert [h.id for h in scans.history()] == stored[:1:-1]  # the newest three
    scans.store(dated(report, 45))  # older than 30 days: gone as soon as it is stored
    assert [h.id for h in scans.history()] == stored[:1:-1]


def test_pruning_by_age_keeps_the_newest_scan(ws: Workspace, work: Path) -> None:
    report = ws.scans.scan([work], save=False)
    for days_ago in (300, 200, 100):
        ws.scans.store(dated(report, days_ago))  # the default keeps 90 days, the newest stays
    [survivor] = ws.scans.history()
    assert survivor.scanned_at.date() == (datetime.now(UTC) - timedelta(days=100)).date()
    assert ws.scans.prune(Retention(days=1)) == 0 and ws.scans.count() == 1
    for days_ago in (3, 2):
        ws.scans.store(dated(report, days_ago))
    assert ws.scans.count() == 2  # the 100-day-old scan went once a newer one was stored
    assert ws.scans.prune(Retention(keep=1)) == 1 and ws.scans.count() == 1
    assert ws.scans.prune(Retention()) == 0
