"""A worker decides every firing it takes off the queue, from the moment the durable engine
launches in it. DBOS keeps its queues in the database, so a starting worker polls the firing
queue that an earlier worker registered before its own scheduler is up; a firing taken in that
window used to stay claimed by a live worker that could not run it, ``pending`` for good (the
intermittent two-worker failure)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from schedtools import QUICK, decided, ended, engine_state

from stagent.domain.schedules import FiringStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine import reconcile as reconcile_module
from stagent.scheduler.drafts import ScheduleDraft
from stagent.workspace import Workspace

SLOW_START_SECONDS = 1.0
"""How long the slow worker's start-up reconcile takes: ten polls of the firing queue."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A workspace on either database whose DBOS tables already hold the firing queue, as they
    do once any worker ran there."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    ws = Workspace.temporary(tmp_path / "ws", database_url=url).open()
    ws.start_worker("worker")
    ws.stop_worker()
    try:
        yield ws
    finally:
        ws.stop_worker()
        ws.close()


def slow_first_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next worker's start-up slow, as on a loaded machine: its first reconcile (after
    the engine launched, before the scheduler starts) takes `SLOW_START_SECONDS`."""
    original: Callable[..., dict[str, int]] = reconcile_module.reconcile
    calls: list[int] = []

    def reconcile(*args: Any) -> dict[str, int]:
        if not calls:
            time.sleep(SLOW_START_SECONDS)
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(reconcile_module, "reconcile", reconcile)


def test_a_slowly_starting_worker_decides_the_firing_that_waited_on_the_queue(
    opened: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = opened.schedules.create(
        ScheduleDraft(name="nightly", prompt="check", every="1d", tz="UTC", options=QUICK)
    )
    waiting = opened.schedules.fire_now(schedule.id)  # on the queue; no worker is running
    slow_first_reconcile(monkeypatch)
    opened.start_worker("worker")
    firing = decided(opened, waiting.id)
    assert (firing.status, firing.reason) == (FiringStatus.FIRED, None), engine_state(opened)
    assert firing.task_id is not None
    task = ended(opened, firing.task_id)
    # Under load on PostgreSQL the task once stayed queued (1 in 9 loaded rounds, wave 15):
    # the message carries the engine's rows and what blocks each connection.
    assert (task.status, task.result) == (TaskStatus.COMPLETED, "ok"), engine_state(opened)
