"""Fixtures for the spending-cap tests (governance and security): the test-only ``metered``
runtime (scripted scenarios booked as real spend) and workspaces whose worker runs twenty
tasks at once, on SQLite and on PostgreSQL.

Test modules (and conftests) import the fixtures by their function names (``*_fixture``);
pytest knows them by their ``name``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stagent import workspace as workspace_module
from stagent.testing.metered import registry_with_metered
from stagent.workspace import Workspace

WIDE = 20
"""How many tasks the wide workspaces' worker runs at once."""


@pytest.fixture(name="_metered_runtime", autouse=True)
def metered_runtime_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every workspace the test builds (in-process CLIs included) can run ``metered`` tasks."""
    monkeypatch.setattr(
        workspace_module,
        "default_registry",
        registry_with_metered(workspace_module.default_registry),
    )


def _working(ws: Workspace) -> Iterator[Workspace]:
    ws.start_worker("worker")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture(name="wide")
def wide_fixture(tmp_path: Path) -> Iterator[Workspace]:
    """A SQLite workspace whose worker runs `WIDE` tasks at once."""
    yield from _working(Workspace.temporary(tmp_path / "ws", concurrency=WIDE).open())


@pytest.fixture(name="wide_pg")
def wide_pg_fixture(pg_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """The same on PostgreSQL."""
    ws = Workspace.temporary(tmp_path / "ws", database_url=pg_url, concurrency=WIDE).open()
    yield from _working(ws)
