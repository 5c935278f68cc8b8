"""Scanner fixtures: the clean and the broken environment trees, scanned (helpers in
``scantools.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from scantools import Scanned, scan_tree

from stagent.testing.scan_trees import broken_tree, clean_tree, fake_bin


@pytest.fixture(autouse=True)
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH with the commands MCP servers name (npx, uvx) and the system's basics only."""
    folder = fake_bin(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}/usr/bin:/bin")
    return folder


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scanned:
    """The clean tree, scanned."""
    return scan_tree(tmp_path, monkeypatch, clean_tree)


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Scanned:
    """The broken tree, scanned."""
    return scan_tree(tmp_path, monkeypatch, broken_tree)
