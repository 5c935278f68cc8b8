"""Views of a scan report for the Environment page: artifacts by tool and category, the project
comparison matrix, the skill portfolio and the score sparkline."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field

from stagent.scanner.report import Artifact, ScanReport, ScanSummary

TOOL_LABELS = {"claude-code": "Claude Code", "codex": "Codex", "shared": "Both (shared)"}
MATRIX_CATEGORIES = (
    "instruction",
    "skill",
    "subagent",
    "command",
    "mcp-server",
    "hook",
    "rule",
    "settings",
    "permission",
    "config",
    "output-style",
)


@dataclass(slots=True)
class CategoryGroup:
    """The artifacts of one tool and category."""

    tool: str
    category: str
    artifacts: list[Artifact]


def by_tool_and_category(report: ScanReport) -> list[CategoryGroup]:
    """Artifacts grouped by tool, then category (both sorted), names sorted within."""
    groups: dict[tuple[str, str], list[Artifact]] = defaultdict(list)
    for a in report.artifacts:
        groups[(a.tool, a.category)].append(a)
    order = {"claude-code": 0, "shared": 1, "codex": 2}
    return [
        CategoryGroup(tool, category, sorted(items, key=lambda a: (a.scope, a.name)))
        for (tool, category), items in sorted(
            groups.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])
        )
    ]


@dataclass(slots=True)
class MatrixRow:
    """One artifact name and, per column, whether that project (or the user level) has it."""

    category: str
    name: str
    cells: list[bool]


@dataclass(slots=True)
class Matrix:
    """Artifacts across projects: columns are the user level then each project."""

    columns: list[str]
    rows: list[MatrixRow]
    hidden: int = 0


def comparison(report: ScanReport, *, limit: int = 250) -> Matrix:
    """The comparison matrix of artifacts across the scanned projects."""
    columns = ["User level", *(p.name for p in report.projects)]
    index = {p.path: i + 1 for i, p in enumerate(report.projects)}
    present: dict[tuple[str, str], set[int]] = defaultdict(set)
    for a in report.artifacts:
        if a.category in MATRIX_CATEGORIES and a.scope != "plugin":
            column = 0 if a.project is None else index.get(a.project)
            if column is not None:
                present[(a.category, a.name)].add(column)
    rank = {c: i for i, c in enumerate(MATRIX_CATEGORIES)}
    keys = sorted(present, key=lambda k: (rank[k[0]], -len(present[k]), k[1]))
    rows = [
        MatrixRow(category, name, [i in present[(category, name)] for i in range(len(columns))])
        for category, name in keys[:limit]
    ]
    return Matrix(columns, rows, max(0, len(keys) - limit))


@dataclass(slots=True)
class SkillPlace:
    """Where one copy of a skill lives."""

    where: str
    tool: str
    path: str
    content_hash: str


@dataclass(slots=True)
class PortfolioSkill:
    """A skill across projects and tools; ``variants`` counts distinct contents."""

    name: str
    description: str
    places: list[SkillPlace] = field(default_factory=lambda: [])
    variants: int = 1

    @property
    def drift(self) -> bool:
        """True when the copies differ."""
        return self.variants > 1


def portfolio(report: ScanReport) -> list[PortfolioSkill]:
    """Every skill (by its own name) across the user level, projects, plugins and both tools."""
    names = {p.path: p.name for p in report.projects}
    skills: dict[str, PortfolioSkill] = {}
    hashes: dict[str, set[str]] = defaultdict(set)
    for a in report.artifacts:
        if a.category != "skill":
            continue
        name = a.name.rsplit(":", 1)[-1]
        where = "plugin" if a.scope == "plugin" else names.get(a.project or "", "user level")
        entry = skills.setdefault(
            name, PortfolioSkill(name, str(a.metadata.get("description") or ""))
        )
        entry.places.append(SkillPlace(where, a.tool, a.path, a.content_hash))
        hashes[name].add(a.content_hash)
        if a.tool == "shared" and a.drift:
            hashes[name].add(f"{a.content_hash}:other")
    for name, entry in skills.items():
        entry.variants = len(hashes[name])
    return sorted(skills.values(), key=lambda s: (-len(s.places), s.name))


def sparkline(history: list[ScanSummary], *, width: int = 240, height: int = 48) -> str:
    """SVG polyline points for the scores of ``history`` (newest first), oldest on the left."""
    scores = [h.score for h in reversed(history)]
    if not scores:
        return ""
    if len(scores) == 1:
        scores = scores * 2
    step = width / (len(scores) - 1)
    return " ".join(
        f"{i * step:.1f},{height - (s / 100) * height:.1f}" for i, s in enumerate(scores)
    )


def display_path(path: str, report: ScanReport) -> str:
    """A path shortened to ``~/...`` under the home folder, or relative to its project."""
    for p in report.projects:
        if path.startswith(p.path + os.sep):
            return f"{p.name}/{path[len(p.path) + 1 :]}"
    home = report.locations.get("home", "")
    if home and path.startswith(home + os.sep):
        return "~" + path[len(home) :]
    return path
