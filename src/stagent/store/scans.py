"""Repository functions for stored environment scans (reports are plain JSON here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from stagent.domain.errors import NotFoundError
from stagent.domain.ids import ensure_aware, new_id
from stagent.store.tables import EnvironmentScanRow


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """A stored scan's summary columns."""

    id: str
    scanned_at: datetime
    roots: list[str]
    score: int
    duration_ms: float
    artifact_count: int
    project_count: int
    errors: int
    warnings: int
    infos: int
    fingerprint: str


def _record(row: EnvironmentScanRow) -> ScanRecord:
    return ScanRecord(
        id=row.id,
        scanned_at=ensure_aware(row.scanned_at),
        roots=list(row.roots),
        score=row.score,
        duration_ms=row.duration_ms,
        artifact_count=row.artifact_count,
        project_count=row.project_count,
        errors=row.errors,
        warnings=row.warnings,
        infos=row.infos,
        fingerprint=row.fingerprint,
    )


def add(session: Session, report: dict[str, Any], *, fingerprint: str) -> str:
    """Store a scan report (a ``ScanReport`` dumped to JSON-able data); returns its id."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for finding in report["findings"]:
        counts[finding["severity"]] += 1
    scan_id = new_id("scn")
    row = EnvironmentScanRow(
        id=scan_id,
        scanned_at=datetime.fromisoformat(report["scanned_at"]),
        roots=report["roots"],
        score=report["score"],
        duration_ms=report["duration_ms"],
        artifact_count=len(report["artifacts"]),
        project_count=len(report["projects"]),
        errors=counts["error"],
        warnings=counts["warning"],
        infos=counts["info"],
        fingerprint=fingerprint,
        report={**report, "id": scan_id},
    )
    session.add(row)
    session.flush()
    return scan_id


def prune(session: Session, *, keep: int | None, before: datetime | None) -> int:
    """Delete stored scans beyond the newest ``keep`` and those scanned before ``before``
    (either may be None); the newest scan always stays. Returns how many were deleted."""
    rows = session.execute(
        select(EnvironmentScanRow.id, EnvironmentScanRow.scanned_at).order_by(
            EnvironmentScanRow.scanned_at.desc(), EnvironmentScanRow.id.desc()
        )
    ).all()
    doomed = [
        scan_id
        for index, (scan_id, scanned_at) in enumerate(rows)
        if index > 0
        and (
            (keep is not None and index >= keep)
            or (before is not None and ensure_aware(scanned_at) < before)
        )
    ]
    for start in range(0, len(doomed), 500):
        chunk = doomed[start : start + 500]
        session.execute(delete(EnvironmentScanRow).where(EnvironmentScanRow.id.in_(chunk)))
    return len(doomed)


def count(session: Session) -> int:
    """How many scans are stored."""
    return int(session.scalar(select(func.count()).select_from(EnvironmentScanRow)) or 0)


def history(session: Session, limit: int = 50) -> list[ScanRecord]:
    """The newest ``limit`` scans, newest first."""
    rows = session.scalars(
        select(EnvironmentScanRow).order_by(EnvironmentScanRow.scanned_at.desc()).limit(limit)
    )
    return [_record(row) for row in rows]


def report(session: Session, scan_id: str) -> dict[str, Any]:
    """A stored scan's report, or `NotFoundError`."""
    row = session.get(EnvironmentScanRow, scan_id)
    if row is None:
        raise NotFoundError(
            f"no scan with id {scan_id!r}", hint="list scans with GET /api/v1/scans"
        )
    return row.report


def latest_report(session: Session) -> dict[str, Any] | None:
    """The newest scan's report (None before the first scan)."""
    return session.scalar(
        select(EnvironmentScanRow.report).order_by(EnvironmentScanRow.scanned_at.desc()).limit(1)
    )


def latest_fingerprint(session: Session) -> str | None:
    """The newest scan's fingerprint (None before the first scan)."""
    return session.scalar(
        select(EnvironmentScanRow.fingerprint)
        .order_by(EnvironmentScanRow.scanned_at.desc())
        .limit(1)
    )
