"""Engine test fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stagent.workspace import Workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace (SQLite, no worker) for a whole module whose tests each make their own
    tasks: migrating a database costs about a second. Modules that need a fresh database per
    test, or PostgreSQL too, define their own ``ws``."""
    workspace = Workspace.temporary(tmp_path_factory.mktemp("engine")).open()
    yield workspace
    workspace.close()
