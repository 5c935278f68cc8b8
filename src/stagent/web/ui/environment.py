"""The Environment page: score, findings with fixes, artifacts by tool and category (with a
detail sheet), history, a comparison of projects and the skill portfolio.

Each page view re-scans (cheap: parses are reused while files are unchanged) and stores the
scan when something changed, so the history records every change seen.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from fastapi import Request
from starlette.responses import Response

from stagent.domain.errors import NotFoundError
from stagent.scanner import ScanReport, views
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.ui.rendering import fragment, page, redirect
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()

TABS = (
    ("overview", "Overview", "/environment"),
    ("history", "History", "/environment/history"),
    ("compare", "Compare projects", "/environment/compare"),
    ("skills", "Skill portfolio", "/environment/skills"),
)


def _fresh(ws: Workspace) -> ScanReport:
    return ws.scans.scan(ws.scans.page_roots(), save=True, only_if_changed=True)


def _page(request: Request, ws: Workspace, tab: str, report: ScanReport, **extra: Any) -> Response:
    return page(
        request,
        "pages/environment.html",
        active="environment",
        title="Environment",
        tab=tab,
        tabs=TABS,
        report=report,
        counts=report.counts(),
        has_projects=bool(ws.scans.project_roots()),
        tool_labels=views.TOOL_LABELS,
        short=functools.partial(_short, report=report),
        **extra,
    )


@router.get("/environment")
def overview(request: Request, ws: WorkspaceDep) -> Response:
    """Score, its dimensions, findings with fixes, artifacts by tool and category."""
    report = _fresh(ws)
    return _page(request, ws, "overview", report, groups=views.by_tool_and_category(report))


@router.get("/environment/history")
def history(request: Request, ws: WorkspaceDep) -> Response:
    """Stored scans with a sparkline of the score."""
    report = _fresh(ws)
    scans = ws.scans.history(60)
    return _page(request, ws, "history", report, scans=scans, spark=views.sparkline(scans))


@router.get("/environment/compare")
def compare(request: Request, ws: WorkspaceDep) -> Response:
    """A matrix of artifacts across the scanned projects."""
    report = _fresh(ws)
    return _page(request, ws, "compare", report, matrix=views.comparison(report))


@router.get("/environment/skills")
def skills(request: Request, ws: WorkspaceDep) -> Response:
    """Every skill across projects and both tools, with drift."""
    report = _fresh(ws)
    return _page(request, ws, "skills", report, skills=views.portfolio(report))


@router.post("/ui/environment/scan")
def scan_now(ws: WorkspaceDep) -> Response:
    """Scan now and store the scan even if nothing changed."""
    ws.scans.scan(ws.scans.page_roots(), save=True)
    return redirect("/environment")


@router.get("/ui/environment/artifacts/{artifact_id}")
def artifact_sheet(artifact_id: str, ws: WorkspaceDep) -> Response:
    """The detail sheet of one artifact: its record, parsed content and findings."""
    report = ws.scans.last or _fresh(ws)
    artifact = next((a for a in report.artifacts if a.id == artifact_id), None)
    if artifact is None:
        report = _fresh(ws)
        artifact = next((a for a in report.artifacts if a.id == artifact_id), None)
    if artifact is None:
        raise NotFoundError(f"no artifact {artifact_id!r} in the latest scan", hint="scan again")
    paths = {artifact.path, *artifact.shared_with}
    html = render(
        "fragments/artifact_sheet.html",
        a=artifact,
        tool_labels=views.TOOL_LABELS,
        metadata=[(k, _show(v)) for k, v in artifact.metadata.items() if v not in (None, [], {})],
        findings=[f for f in report.findings if f.path in paths],
    )
    return fragment(html)


def _short(path: str, *, report: ScanReport) -> str:
    return views.display_path(path, report)


def _show(value: object) -> tuple[bool, str]:
    """(is block, text): mappings and lists as indented JSON, the rest as text."""
    if isinstance(value, dict | list):
        return True, json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return isinstance(value, str) and "\n" in value, str(value)
