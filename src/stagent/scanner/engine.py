"""The scanner: discover projects, collect artifacts through the cache, check, score."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stagent.collector import collector_paused
from stagent.domain.errors import ValidationError
from stagent.scanner import checks, claude, codex
from stagent.scanner.collect import Collector, Recorded
from stagent.scanner.fscache import FsCache
from stagent.scanner.locations import Locations
from stagent.scanner.report import SEVERITY_RANK, Artifact, Finding, ProjectInfo, ScanReport
from stagent.scanner.score import health
from stagent.scanner.walk import DEFAULT_MAX_DEPTH, Project, discover, git_branch

PSEUDO_FILESYSTEMS = frozenset({"/proc", "/sys", "/dev", "/run"})
"""Never walked (scanning ``/`` would otherwise list every process)."""


class Scanner:
    """Scans Claude Code and Codex environments; keep one to make re-scans cheap.

    Parse results are reused while a file's size and mtime are unchanged, directory listings
    while the directory's mtime is. Not thread-safe: serialise calls (the web layer does).
    """

    def __init__(self, locations: Locations | None = None) -> None:
        self._fixed_locations = locations
        self.cache = FsCache()
        self._path = checks.PathLookup()
        self._memo: _PureMemo | None = None
        self._projects: dict[tuple[str, tuple[str, ...]], Recorded] = {}
        self._user: tuple[tuple[Locations, tuple[str, ...]], Recorded] | None = None
        self._merged: tuple[list[Artifact], tuple[list[Artifact], list[Finding]]] | None = None

    def scan(
        self, roots: Iterable[str | Path], *, max_depth: int = DEFAULT_MAX_DEPTH
    ) -> ScanReport:
        """Scan the user level and every project under ``roots``."""
        started = time.perf_counter()
        with collector_paused():
            report = self._scan(roots, max_depth)
        report.duration_ms = round((time.perf_counter() - started) * 1000, 3)
        return report

    def _scan(self, roots: Iterable[str | Path], max_depth: int) -> ScanReport:
        loc = self._fixed_locations or Locations.from_env()
        root_list: list[str] = [os.path.abspath(os.fspath(r)) for r in roots]
        for root in root_list:
            if not os.path.isdir(root):
                raise ValidationError(
                    f"scan path {root} is not a folder",
                    hint="give a project folder or a folder of projects",
                )
        skip = PSEUDO_FILESYSTEMS | {
            str(loc.claude_managed),
            str(loc.codex_system),
            str(loc.claude_dir),
            str(loc.codex_home),
            str(loc.agents_skills.parent),
        }
        self.cache.begin()
        self._path.begin()
        projects = discover(
            self.cache,
            root_list,
            max_depth=max_depth,
            skip=frozenset(skip),
            not_projects=frozenset({str(loc.home)}),
        )
        c = Collector(self.cache, loc)
        self._scan_user_level(c, tuple(p.root for p in projects))
        self._scan_projects(c, projects)
        artifacts, drift = self._merge_shared(c.artifacts)
        home = str(loc.home)
        findings = [*c.findings, *drift, *self._pure_checks(artifacts, projects)]
        findings += checks.mcp_commands(artifacts, self._path, home)
        findings += checks.hook_scripts(artifacts, home)
        findings.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.path, f.line or 0))
        scored = health(findings)
        records = list(self._projects.values())  # what this scan collected or replayed
        if self._user is not None:
            records.append(self._user[1])
        self.cache.end(
            sum(len(r.inputs.files) for r in records),
            lambda: {path for r in records for path, _ in r.inputs.files},
        )
        return ScanReport.model_construct(
            id=None,
            scanned_at=datetime.now(UTC),
            roots=root_list,
            locations=loc.as_dict(),
            projects=[_info(p) for p in projects],
            artifacts=artifacts,
            findings=findings,
            score=scored.score,
            health=scored,
            duration_ms=0.0,
        )

    def _scan_user_level(self, c: Collector, project_roots: tuple[str, ...]) -> None:
        """Managed, user and system files of both tools: replayed like a project when none of
        its inputs changed (the locations and the scanned projects are part of its key)."""
        key = (c.loc, project_roots)
        last = self._user
        if last is not None and last[0] == key and c.replay(last[1]):
            return

        def collect() -> None:
            claude.scan_managed(c)
            claude.scan_user(c, project_roots)
            codex.scan_system(c)
            codex.scan_user(c)

        self._user = (key, c.record(collect))

    def _scan_projects(self, c: Collector, projects: list[Project]) -> None:
        """Each project's artifacts: replayed when none of the listings and files its last
        scan read changed (a re-scan then costs one stat each), else collected again."""
        memo: dict[tuple[str, tuple[str, ...]], Recorded] = {}
        for project in projects:
            key = (project.root, tuple(project.nested))
            before = self._projects.get(key)
            if before is None or not c.replay(before):

                def collect(project: Project = project) -> None:
                    claude.scan_project(c, project)
                    codex.scan_project(c, project)

                before = c.record(collect)
            memo[key] = before
        self._projects = memo

    def _merge_shared(self, artifacts: list[Artifact]) -> tuple[list[Artifact], list[Finding]]:
        """`checks.merge_shared_skills`, reused while the collected artifacts are the very
        objects of the last scan (the caches hand back the same objects for unchanged files)."""
        last = self._merged
        if last is not None and _same_objects(last[0], artifacts):
            return last[1]
        merged = checks.merge_shared_skills(artifacts)
        self._merged = (artifacts, merged)
        return merged

    def _pure_checks(self, artifacts: list[Artifact], projects: list[Project]) -> list[Finding]:
        """Checks that depend on the artifacts alone, reused while none of them changed (the
        very same list when `_merge_shared` was reused, else equal ids, hashes and sizes)."""
        roots = tuple(p.root for p in projects)
        memo = self._memo
        if memo is not None and memo.roots == roots:
            if memo.artifacts is artifacts:
                return memo.found
            key = _content_key(artifacts)
            if memo.key == key:
                self._memo = _PureMemo(roots, artifacts, key, memo.found)
                return memo.found
        found = [
            *checks.duplicates(artifacts, projects),
            *checks.codex_doc_budget(artifacts, _user_doc_limit(artifacts)),
            *checks.missing_instructions(artifacts, projects),
        ]
        self._memo = _PureMemo(roots, artifacts, _content_key(artifacts), found)
        return found


@dataclass(frozen=True, slots=True)
class _PureMemo:
    roots: tuple[str, ...]
    artifacts: list[Artifact]
    key: tuple[tuple[str, str, int], ...]
    found: list[Finding]


def _content_key(artifacts: list[Artifact]) -> tuple[tuple[str, str, int], ...]:
    return tuple((a.id, a.content_hash, a.size) for a in artifacts)


def _same_objects(a: list[Artifact], b: list[Artifact]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _info(project: Project) -> ProjectInfo:
    return ProjectInfo(
        path=project.root,
        name=project.name,
        branch=git_branch(project.root) if ".git" in project.markers else None,
        markers=project.markers,
    )


def _user_doc_limit(artifacts: list[Artifact]) -> int | None:
    for a in artifacts:
        if a.tool == "codex" and a.category == "config" and a.project is None:
            value = a.metadata.get("project_doc_max_bytes")
            return value if isinstance(value, int) else None
    return None
