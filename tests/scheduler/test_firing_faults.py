"""A firing whose decision raises (a dropped database connection, say) is never lost: the
durable firing workflow tries the idempotent decision again, so a passing fault still fires the
occurrence exactly once; one that keeps failing is recorded ``failed`` with the error, in the
schedule's history (CLI and API); and a firing whose durable run ended in ``ERROR`` without even
that record is marked failed by the scheduler's sweep (`ScheduleService.nudge_open`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from schedtools import QUICK, decided, ended
from typer.testing import CliRunner

from stagent.cli.app import app as cli_app
from stagent.domain.ids import utcnow
from stagent.domain.schedules import FiringStatus, Schedule
from stagent.domain.tasks import TaskStatus
from stagent.scheduler import durable
from stagent.scheduler.drafts import ScheduleDraft
from stagent.scheduler.firing import FiringDecider
from stagent.web.app import create_app
from stagent.workspace import Workspace

DROPPED = "server closed the connection unexpectedly"


class ConnectionDroppedError(Exception):
    """What a decide step sees when the database goes away under it."""


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short backoffs and three attempts, so a failing firing is decided within seconds."""
    monkeypatch.setattr(durable, "FIRST_FAILURE_RETRY_SECONDS", 0.05)
    monkeypatch.setattr(durable, "DECIDE_ATTEMPTS", 3)


@pytest.fixture
def served(workspace: Workspace) -> Iterator[Workspace]:
    """The test workspace with a worker in this process (started by the test, after its
    faults are in place), stopped at the end."""
    yield workspace
    workspace.stop_worker()


def nightly(ws: Workspace) -> Schedule:
    return ws.schedules.create(
        ScheduleDraft(name="nightly", prompt="check", every="1d", tz="UTC", options=QUICK)
    )


def drop_connection(
    monkeypatch: pytest.MonkeyPatch, decider: FiringDecider, *, times: int, after_commit: bool
) -> list[int]:
    """Make the decision's launch raise `ConnectionDroppedError` ``times`` times: before its
    transaction (nothing written) or after it committed (task created, firing marked fired,
    but the step never returned). Returns the list of launch calls, one entry each."""
    original: Callable[..., Any] = decider._launch  # pyright: ignore[reportPrivateUsage]
    calls: list[int] = []

    def launch(*args: Any) -> Any:
        calls.append(1)
        if len(calls) > times:
            return original(*args)
        if after_commit:
            original(*args)
        raise ConnectionDroppedError(DROPPED)

    monkeypatch.setattr(decider, "_launch", launch)
    return calls


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
def test_a_decision_that_fails_once_still_fires_the_occurrence_exactly_once(
    served: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    quick_retries: None,
    after_commit: bool,
) -> None:
    schedule = nightly(served)
    decider = served.schedules.decider
    calls = drop_connection(monkeypatch, decider, times=1, after_commit=after_commit)
    served.start_worker("worker")
    firing = decided(served, served.schedules.fire_now(schedule.id).id)
    assert (firing.status, firing.reason) == (FiringStatus.FIRED, None)
    assert firing.task_id is not None
    assert engine_state(served, firing.id) == "SUCCESS"  # the decision queued the task
    task = ended(served, firing.task_id)
    assert (task.status, task.result) == (TaskStatus.COMPLETED, "ok")
    assert [t.id for t in served.tasks.list()] == [firing.task_id]  # one task, not two
    assert len(calls) == (1 if after_commit else 2)  # a fired firing is not launched again


def test_a_decision_that_keeps_failing_is_recorded_failed_with_its_reason(
    served: Workspace, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    schedule = nightly(served)
    calls = drop_connection(monkeypatch, served.schedules.decider, times=99, after_commit=False)
    served.start_worker("worker")
    firing = decided(served, served.schedules.fire_now(schedule.id).id)
    assert firing.status is FiringStatus.FAILED
    assert firing.reason == (
        "could not be decided after 3 attempts; nothing was started "
        f"(ConnectionDroppedError: {DROPPED})"
    )
    assert len(calls) == 3 and firing.task_id is None and served.tasks.list() == []
    shown = show_json(served, schedule.id)
    assert [(f["status"], f["reason"]) for f in shown["firings"]] == [("failed", firing.reason)]


def test_a_firing_whose_durable_run_ended_in_error_is_marked_failed_by_the_sweep(
    served: Workspace, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    schedule = nightly(served)
    drop_connection(monkeypatch, served.schedules.decider, times=99, after_commit=False)
    service = served.schedules

    def fail_undecided(firing_ref: str, reason: str) -> str:
        raise ConnectionDroppedError(DROPPED)  # even recording the failure fails

    monkeypatch.setattr(service, "fail_undecided", fail_undecided)
    served.start_worker("worker")
    firing = service.fire_now(schedule.id)
    assert engine_state(served, firing.id) == "ERROR"
    assert service.firing(firing.id).status is FiringStatus.PENDING
    monkeypatch.undo()  # the database is back
    service.clock = lambda: utcnow() + timedelta(minutes=1)
    assert service.nudge_open() == 1
    swept = service.firing(firing.id)
    assert swept.status is FiringStatus.FAILED
    assert swept.reason == (
        "its durable run ended in ERROR before deciding it; nothing was started "
        "(the worker's log has the error)"
    )
    assert service.nudge_open() == 0  # decided: the sweep leaves it alone from now on
    assert [f["status"] for f in show_json(served, schedule.id)["firings"]] == ["failed"]


def test_the_api_shows_a_failed_firing_with_its_reason(
    served: Workspace, monkeypatch: pytest.MonkeyPatch, quick_retries: None
) -> None:
    schedule = nightly(served)
    drop_connection(monkeypatch, served.schedules.decider, times=99, after_commit=False)
    served.start_worker("worker")
    firing = decided(served, served.schedules.fire_now(schedule.id).id)
    shown = asyncio.run(api_show(served, schedule.id))
    assert [(f["id"], f["status"]) for f in shown["firings"]] == [(firing.id, "failed")]
    assert DROPPED in shown["firings"][0]["reason"]
    assert shown == show_json(served, schedule.id)


def test_a_missing_durable_run_is_handed_to_the_engine_again(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = nightly(workspace)
    handed: list[str] = []
    service = workspace.schedules
    fired_at = utcnow()
    firing = service.fire_now(schedule.id)  # enqueued through the real client: no worker runs
    monkeypatch.setattr(service, "_enqueue", handed.append)
    monkeypatch.setattr(service, "_engine_status", lambda _id: None)  # a crash lost it
    # Asked as the firing is made (not "now": fire_now may take seconds on a loaded machine)
    service.clock = lambda: fired_at
    assert service.nudge_open() == 0  # too recent: its enqueue may still be on its way
    service.clock = lambda: utcnow() + timedelta(minutes=1)
    assert service.nudge_open() == 1 and handed == [firing.id]
    assert service.firing(firing.id).status is FiringStatus.PENDING


async def api_show(ws: Workspace, schedule_id: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=create_app(ws))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get(f"/api/v1/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    return response.json()


def show_json(ws: Workspace, schedule_id: str) -> dict[str, Any]:
    home = str(ws.settings.home)
    args = ["--home", home, "schedule", "show", schedule_id, "--json"]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def engine_state(ws: Workspace, workflow_id: str, timeout: float = 60) -> str | None:
    """The firing's durable run's state once it ended (or its last state at the timeout)."""
    deadline = time.monotonic() + timeout
    state = ws.queue.status(workflow_id)
    while state in (None, "ENQUEUED", "PENDING") and time.monotonic() < deadline:
        time.sleep(0.1)
        state = ws.queue.status(workflow_id)
    return state
