"""Scanner fixtures: the clean and the broken environment trees, scanned."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from stagent.scanner import Locations, Scanner, ScanReport
from stagent.testing.scan_trees import broken_tree, clean_tree, fake_bin


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


def _scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build) -> Scanned:  # type: ignore[no-untyped-def]
    work = build(tmp_path)
    monkeypatch.setenv("PATH", f"{fake_bin(tmp_path / 'bin')}{os.pathsep}/usr/bin:/bin")
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    return Scanned(tmp_path, work, scanner, scanner.scan([work]))


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scanned:
    """The clean tree, scanned."""
    return _scan(tmp_path, monkeypatch, clean_tree)


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scanned:
    """The broken tree, scanned."""
    return _scan(tmp_path, monkeypatch, broken_tree)
