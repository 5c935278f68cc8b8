"""Scanner test helpers: a scanned tree and a one-call scan of files written for the test.

Imported as ``from scantools import ...`` (not from ``conftest``: under several test paths or
pytest-xdist the module named ``conftest`` may be another folder's).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from stagent.scanner import Locations, Scanner, ScanReport
from stagent.testing.scan_trees import fake_bin, write


@dataclass
class Scanned:
    """A tree on disk, the folder scanned, the scanner (with its cache) and the report."""

    root: Path
    work: Path
    scanner: Scanner
    report: ScanReport

    def rescan(self) -> ScanReport:
        """Scan again with the same scanner (the cache is warm)."""
        self.report = self.scanner.scan([self.work])
        return self.report

    def rel(self, path: str) -> str:
        """A path relative to the tree's root, for readable assertions."""
        return os.path.relpath(path, self.root)


def scan_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build) -> Scanned:  # type: ignore[no-untyped-def]
    """Build a tree with ``build(tmp_path)`` and scan its work folder with HOME inside it."""
    work = build(tmp_path)
    monkeypatch.setenv("PATH", f"{fake_bin(tmp_path / 'bin')}{os.pathsep}/usr/bin:/bin")
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    return Scanned(tmp_path, work, scanner, scanner.scan([work]))


Files = dict[str, "str | dict[str, object]"]


def scan_files(
    root: Path,
    files: Files,
    *,
    scan: tuple[str, ...] = ("work",),
    env: dict[str, str] | None = None,
    executable: tuple[str, ...] = (),
    **locations: Path,
) -> ScanReport:
    """Write ``files`` (paths relative to ``root``; a dict becomes JSON) and scan the folders
    ``scan`` with HOME at ``root/home`` (``env`` adds CLAUDE_CONFIG_DIR or CODEX_HOME;
    ``locations`` overrides managed folders, e.g. ``claude_managed=...``)."""
    for rel, content in files.items():
        write(root / rel, content, executable=rel in executable)  # type: ignore[arg-type]
    for folder in scan:
        (root / folder).mkdir(parents=True, exist_ok=True)
    loc = Locations.from_env({"HOME": str(root / "home"), **(env or {})})
    nowhere = root / "nowhere"
    loc = replace(
        loc,
        claude_managed=locations.get("claude_managed", nowhere / "claude-code"),
        codex_system=locations.get("codex_system", nowhere / "codex"),
    )
    return Scanner(loc).scan([root / folder for folder in scan])
