"""Concurrent starts cannot jointly overshoot: each start reserves its estimate atomically."""

from __future__ import annotations

import pytest
from budgettools import costing, new_task, rows, set_budget, settled, usd

from captools import WIDE, wide_fixture, wide_pg_fixture  # noqa: F401
from stagent.domain.tasks import TaskStatus
from stagent.workspace import Workspace

STARTS = WIDE


def _twenty_starts_against_headroom_for_three(ws: Workspace) -> None:
    set_budget(ws, daily=usd("3"), per_run=usd("1"))  # each run is estimated at its cap, $1
    tasks = [new_task(ws, f"run {n}", costing(1.0, delay=1.0)) for n in range(STARTS)]
    for task in tasks:
        ws.tasks.run(task.id)
    done = [ws.tasks.wait(task.id, timeout=60) for task in tasks]
    settled(ws)
    started = [t for t in done if t.status is TaskStatus.COMPLETED]
    blocked = [t for t in done if t.status is TaskStatus.FAILED]
    assert len(started) == 3, [(t.status, t.error) for t in done]
    assert len(blocked) == STARTS - 3
    assert all(
        (t.error or "").startswith("blocked by budget: overall daily cap $3.00") for t in blocked
    )
    refusals = rows(ws, status="blocked")
    assert len(refusals) == STARTS - 3
    # Refusals came while no real usage was known yet: the reservations did the blocking.
    first_usage = min(r.finished_at for r in rows(ws, status="completed"))
    assert min(r.finished_at for r in refusals) < first_usage
    assert any("held by running work" in (r.note or "") for r in refusals)
    assert len(rows(ws, status="released")) == 3
    daily = ws.budgets.status("overall").limits[0]
    assert (daily.spent, daily.reserved) == (3_000_000, 0)  # no overshoot


def test_twenty_concurrent_starts_against_headroom_for_three(wide: Workspace) -> None:
    _twenty_starts_against_headroom_for_three(wide)


@pytest.mark.postgres
def test_twenty_concurrent_starts_on_postgresql(wide_pg: Workspace) -> None:
    _twenty_starts_against_headroom_for_three(wide_pg)
