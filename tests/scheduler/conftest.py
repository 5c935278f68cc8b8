"""Fixtures shared by the scheduler tests (each file gives its own ``workspace``)."""

from __future__ import annotations

import pytest
from schedtools import Clock, use_clock

from stagent.workspace import Workspace


@pytest.fixture
def clock(workspace: Workspace) -> Clock:
    """The workspace's schedules on a hand-moved clock (``workspace`` is the test file's)."""
    return use_clock(workspace, Clock())
