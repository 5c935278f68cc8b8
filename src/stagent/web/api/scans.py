"""``/api/v1/scans``: environment scans (the same report `stagent scan --json` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from stagent.domain.errors import NotFoundError
from stagent.scanner import ScanReport, ScanSummary
from stagent.web.api.models import ListOut, PathText, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router

router = api_router("/scans", tags=["scans"])


class ScanIn(BaseModel):
    """What to scan: folders holding projects (default: the workspace's project folders)."""

    roots: list[PathText] | None = Field(
        default=None, max_length=50, description="folders to look for projects under"
    )


@router.get("", response_model=ListOut[ScanSummary])
def list_scans(
    ws: WorkspaceDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> ListOut[ScanSummary]:
    """Stored scans, newest first: score, counts and duration (without artifacts)."""
    return list_of(ws.scans.history(limit))


@router.post("", response_model=ScanReport, status_code=201)
def run_scan(ws: WorkspaceDep, body: ScanIn | None = None) -> ScanReport:
    """Scan now (the user level and every project under the roots) and store the result."""
    roots = None if body is None or body.roots is None else [Path(r) for r in body.roots]
    return ws.scans.scan(roots)


@router.get("/latest", response_model=ScanReport)
def latest_scan(ws: WorkspaceDep) -> ScanReport:
    """The newest stored scan."""
    report = ws.scans.latest()
    if report is None:
        raise NotFoundError("no scan has been stored yet", hint="POST /api/v1/scans runs one")
    return report


@router.get("/{scan_id}", response_model=ScanReport)
def get_scan(scan_id: str, ws: WorkspaceDep) -> ScanReport:
    """One stored scan with its artifacts and findings."""
    return ws.scans.get(scan_id)
