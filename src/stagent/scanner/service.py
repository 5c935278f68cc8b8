"""Scans as a workspace service: run one (on the workspace's projects or given folders),
store it with its duration, read the history back, prune it."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from stagent.scanner.engine import Scanner
from stagent.scanner.locations import Locations
from stagent.scanner.report import ScanReport, ScanSummary
from stagent.store import projects as project_repo
from stagent.store import scans as scan_repo
from stagent.store.database import Store


def fingerprint(report: ScanReport) -> str:
    """What the scan found, hashed: equal fingerprints mean nothing changed."""
    digest = hashlib.sha256()
    for a in report.artifacts:
        digest.update(f"{a.id}:{a.content_hash}:{a.tool}\n".encode())
    for f in report.findings:
        digest.update(f"{f.kind}:{f.path}:{f.line}:{f.message}\n".encode())
    digest.update(f"{report.score}:{sorted(report.roots)}".encode())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Retention:
    """How much scan history is kept: the newest ``keep`` scans, none older than ``days``
    (the newest scan always stays)."""

    keep: int | None = None
    days: int | None = None

    def cutoff(self, now: datetime | None = None) -> datetime | None:
        """Scans before this moment go (None: no age limit)."""
        if self.days is None:
            return None
        return (now or datetime.now(UTC)) - timedelta(days=self.days)


class ScanService:
    """Runs scans through one long-lived `Scanner` (so re-scans are cheap) and stores them.

    Each stored scan prunes the history to ``keep`` scans and ``keep_days`` days.
    """

    def __init__(
        self,
        store: Store,
        locations: Locations | None = None,
        *,
        keep: int | None = None,
        keep_days: int | None = None,
    ) -> None:
        self._store = store
        self.retention = Retention(keep, keep_days)
        self._scanner = Scanner(locations)
        self._lock = threading.Lock()
        self.last: ScanReport | None = None
        """The newest report this process made (the page's detail sheets read it)."""

    def project_roots(self) -> list[Path]:
        """The working directories of the workspace's projects that exist on this machine."""
        with self._store.read() as session:
            dirs = [p.working_directory for p in project_repo.list_all(session)]
        return sorted({Path(d) for d in dirs if d and Path(d).is_dir()})

    def page_roots(self) -> list[Path]:
        """What the Environment page scans: the project folders, else the folders of the
        newest stored scan (say, from ``stagent scan ~/code``)."""
        roots = self.project_roots()
        if roots:
            return roots
        history = self.history(1)
        return [Path(r) for r in history[0].roots if Path(r).is_dir()] if history else []

    def scan(
        self,
        roots: Sequence[Path] | None = None,
        *,
        save: bool = True,
        only_if_changed: bool = False,
    ) -> ScanReport:
        """Scan the user level and the projects under ``roots`` (default: the workspace's
        project folders). ``save`` stores it; ``only_if_changed`` stores it only when it
        differs from the newest stored scan."""
        with self._lock:
            report = self._scanner.scan(self.project_roots() if roots is None else roots)
            self.last = report
        if save:
            self.store(report, only_if_changed=only_if_changed)
        return report

    def store(self, report: ScanReport, *, only_if_changed: bool = False) -> None:
        """Store ``report`` (and set its id), unless nothing changed and ``only_if_changed``."""
        mark = fingerprint(report)
        with self._store.write() as session:
            if only_if_changed and scan_repo.latest_fingerprint(session) == mark:
                report.id = scan_repo.history(session, 1)[0].id
                return
            report.id = scan_repo.add(session, report.model_dump(mode="json"), fingerprint=mark)
            keep, before = self.retention.keep, self.retention.cutoff()
            scan_repo.prune(session, keep=keep, before=before)

    def prune(self, retention: Retention) -> int:
        """Delete stored scans outside ``retention``; returns how many went."""
        with self._store.write() as session:
            return scan_repo.prune(session, keep=retention.keep, before=retention.cutoff())

    def count(self) -> int:
        """How many scans are stored."""
        with self._store.read() as session:
            return scan_repo.count(session)

    def history(self, limit: int = 50) -> list[ScanSummary]:
        """Stored scans, newest first (without their artifacts)."""
        with self._store.read() as session:
            records = scan_repo.history(session, limit)
        return [
            ScanSummary(
                id=r.id,
                scanned_at=r.scanned_at,
                roots=r.roots,
                score=r.score,
                duration_ms=r.duration_ms,
                artifact_count=r.artifact_count,
                project_count=r.project_count,
                errors=r.errors,
                warnings=r.warnings,
                infos=r.infos,
            )
            for r in records
        ]

    def get(self, scan_id: str) -> ScanReport:
        """A stored scan's full report."""
        with self._store.read() as session:
            data = scan_repo.report(session, scan_id)
        return ScanReport.model_validate(data)

    def latest(self) -> ScanReport | None:
        """The newest stored scan (None before the first)."""
        with self._store.read() as session:
            data = scan_repo.latest_report(session)
        return None if data is None else ScanReport.model_validate(data)
