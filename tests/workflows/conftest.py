"""Fixtures shared by the workflow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgres"])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    """A workspace with a worker in this process, on SQLite or on PostgreSQL."""
    if request.param == "sqlite":
        yield request.getfixturevalue("worker")
        return
    pg: Workspace = request.getfixturevalue("pg_workspace")
    pg.start_worker("worker")
    try:
        yield pg
    finally:
        pg.stop_worker()
