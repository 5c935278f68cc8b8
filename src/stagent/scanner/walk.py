"""Workspace discovery: projects under a folder, found by their markers, within a depth limit."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from stagent.scanner.fscache import FsCache

SKIP_DIRS = frozenset(
    {
        "node_modules",
        "bower_components",
        "vendor",
        "dist",
        "build",
        "out",
        "target",
        "coverage",
        "venv",
        "env",
        "site-packages",
        "__pycache__",
    }
)
"""Dependency and build folders never walked (hidden folders are never walked either)."""

PROJECT_MARKERS = (
    ".git",
    ".claude",
    ".codex",
    ".agents",
    ".mcp.json",
    "CLAUDE.md",
    "CLAUDE.local.md",
    "AGENTS.md",
    "AGENTS.override.md",
)
"""A folder holding any of these is a project (unless it is inside one and has no ``.git``)."""

NESTED_MARKERS = frozenset(
    {"CLAUDE.md", "CLAUDE.local.md", "AGENTS.md", "AGENTS.override.md", ".claude", ".agents"}
)
"""Inside a project, a subfolder holding any of these has nested instructions or skills."""

DEFAULT_MAX_DEPTH = 4


@dataclass(slots=True)
class Project:
    """A project root, the markers that made it one and its subfolders with nested files."""

    root: str
    markers: list[str]
    nested: list[str] = field(default_factory=lambda: [])

    @property
    def name(self) -> str:
        """The folder's name."""
        return os.path.basename(self.root) or self.root


def discover(
    cache: FsCache,
    roots: Iterable[str],
    *,
    max_depth: int,
    skip: frozenset[str],
    not_projects: frozenset[str],
) -> list[Project]:
    """Projects under ``roots`` (a root with markers is one itself), at most ``max_depth`` deep.

    A folder with markers inside a project is part of it (nested files) unless it has its own
    ``.git``. Folders in ``skip`` are never walked (the tools' own folders); folders in
    ``not_projects`` are walked but never a project (the home folder, whose ``.claude`` is the
    user level).
    """
    projects: list[Project] = []
    seen: set[str] = set()
    for root in roots:
        _walk(cache, os.path.abspath(root), max_depth, (skip, not_projects), projects, seen)
    return projects


def _walk(
    cache: FsCache,
    root: str,
    max_depth: int,
    excluded: tuple[frozenset[str], frozenset[str]],
    projects: list[Project],
    seen: set[str],
) -> None:
    skip, not_projects = excluded
    stack: list[tuple[str, int, Project | None]] = [(root, 0, None)]
    while stack:
        path, depth, current = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        entries = cache.listing(path)
        if entries is None:
            continue
        current = _classify(path, entries, current, not_projects, projects)
        if depth >= max_depth:
            continue
        for name, is_dir in entries.items():
            if is_dir and name[0] != "." and name not in SKIP_DIRS:
                child = f"{path.rstrip('/')}/{name}"
                if child not in skip:
                    stack.append((child, depth + 1, current))


def _classify(
    path: str,
    entries: dict[str, bool],
    current: Project | None,
    exclude: frozenset[str],
    projects: list[Project],
) -> Project | None:
    if path in exclude:
        return current
    markers = [m for m in PROJECT_MARKERS if m in entries]
    if not markers:
        return current
    if current is None or ".git" in entries:
        project = Project(path, markers)
        projects.append(project)
        return project
    if any(m in NESTED_MARKERS for m in markers):
        current.nested.append(path)
    return current


def git_branch(root: str) -> str | None:
    """The checked-out branch from ``.git/HEAD`` (worktrees' ``gitdir:`` files followed)."""
    git = os.path.join(root, ".git")
    try:
        if os.path.isfile(git):
            with open(git, encoding="utf-8") as handle:
                pointer = handle.read().strip()
            if not pointer.startswith("gitdir:"):
                return None
            git = os.path.join(root, pointer.split(":", 1)[1].strip())
        with open(os.path.join(git, "HEAD"), encoding="utf-8") as handle:
            head = handle.read().strip()
    except OSError:
        return None
    if head.startswith("ref: refs/heads/"):
        return head.removeprefix("ref: refs/heads/")
    return head[:12] or None
