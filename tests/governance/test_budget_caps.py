"""At or over a cap, new runs are refused before any provider call, visibly and with reasons."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import ClassVar

import pytest
from budgettools import alerts, costing, new_task, rows, run, set_budget, settled, spend, usd
from sqlalchemy import text

from stagent.domain.errors import ValidationError
from stagent.domain.events import ResultEvent, RuntimeEvent
from stagent.domain.tasks import TaskStatus
from stagent.governance.budgets_policy import CallScope
from stagent.runtimes.base import AgentRun, PermissionGate, RunRequest, Runtime, RuntimeCapabilities
from stagent.store import budgets as budget_repo
from stagent.workspace import Workspace

BLOCKED = re.compile(
    r"^blocked by budget: overall daily cap \$1\.00 reached \(spent \$1\.00\); "
    r"resets \d{4}-\d\d-\d\d 00:00 \S+$"
)


def test_a_reached_cap_refuses_the_next_task_with_a_blocked_row_and_a_notice(
    worker: Workspace,
) -> None:
    set_budget(worker, daily=usd("1"), per_run=usd("1"))
    first = run(worker, new_task(worker, "spends the cap", costing(1.0)))
    assert first.status is TaskStatus.COMPLETED

    second = run(worker, new_task(worker, "one too many", costing(1.0)))
    assert second.status is TaskStatus.FAILED
    assert second.error is not None and BLOCKED.match(second.error), second.error
    assert [e.kind for e in worker.tasks.events(second.id)] == [
        "created",
        "status",
        "status",
        "status",
    ]
    assert not [e for e in worker.tasks.events(second.id) if e.kind == "usage"]

    (blocked,) = rows(worker, status="blocked")
    assert (blocked.task_id, blocked.cost_micros, blocked.runtime) == (second.id, 0, "metered")
    assert blocked.note == second.error
    (notice,) = alerts(worker, "blocked")
    assert "overall daily cap $1.00" in notice.title
    assert notice.payload["resets"] in (second.error or "")
    assert notice.payload["cap_usd"] == "1.00" and notice.task_id == second.id


def test_a_zero_cap_refuses_every_run_with_a_notice_and_no_crash(worker: Workspace) -> None:
    set_budget(worker, daily=usd("0"))
    refused = run(worker, new_task(worker, "nothing may be spent", costing(0.1)))
    assert refused.status is TaskStatus.FAILED
    assert refused.error is not None and "overall daily cap $0.00 reached" in refused.error
    assert not [e for e in worker.tasks.events(refused.id) if e.kind == "usage"]
    assert alerts(worker, "blocked")


def test_more_refusals_in_the_window_update_one_notice(worker: Workspace) -> None:
    set_budget(worker, daily=usd("0.5"))
    spend(worker, new_task(worker), 0.5)
    for index in range(3):
        assert run(worker, new_task(worker, f"refused {index}")).status is TaskStatus.FAILED
    assert len(rows(worker, status="blocked")) == 3
    (notice,) = alerts(worker, "blocked")
    assert notice.payload["blocked_calls"] == 3 and not notice.read
    assert "(3 calls)" in notice.title


def test_calls_already_running_complete(worker: Workspace) -> None:
    set_budget(worker, daily=usd("1"), per_run=usd("0.5"))
    long_run = new_task(worker, "started in time", costing(0.9, delay=1.0))
    worker.tasks.run(long_run.id)
    wait_until(lambda: rows(worker, status="reserved"))
    late = new_task(worker, "started later")
    spend(worker, late, 0.6)  # $0.60 spent + $0.50 held by the running task: over the cap
    assert run(worker, late).status is TaskStatus.FAILED
    assert worker.tasks.wait(long_run.id).status is TaskStatus.COMPLETED
    settled(worker)
    assert worker.budgets.status("overall").limits[0].spent == 1_500_000


def test_runtime_and_project_caps_only_limit_their_own_work(worker: Workspace) -> None:
    worker.projects.create("Capped")
    set_budget(worker, scope="project", ref="Capped", monthly=usd("0.1"))
    set_budget(worker, scope="runtime", ref="claude", daily=usd("0.1"))
    capped = new_task(worker, "in project", project="Capped")
    spend(worker, capped, 0.1)
    refused = run(worker, new_task(worker, "also in project", project="Capped"))
    assert refused.error is not None
    assert refused.error.startswith("blocked by budget: project Capped monthly cap $0.10")
    assert run(worker, new_task(worker, "no project")).status is TaskStatus.COMPLETED


def test_the_threshold_warning_fires_once_per_window(workspace: Workspace) -> None:
    set_budget(workspace, daily=usd("10"), warn_at=0.8)
    task = new_task(workspace)
    spend(workspace, task, 5.0)
    assert alerts(workspace) == []
    spend(workspace, task, 3.5)
    (warning,) = alerts(workspace, "warning")
    assert warning.title == "Budget warning: overall daily spend at 85%"
    assert "$8.50 of the overall daily cap $10.00" in warning.body
    spend(workspace, task, 1.0)
    assert workspace.budgets.admit(CallScope(runtime="metered", task_id=task.id)).allowed
    assert len(alerts(workspace, "warning")) == 1
    # Durable: another process over the same database does not warn again.
    with Workspace(workspace.settings) as again:
        spend(again, task, 0.1)
        assert len(alerts(again, "warning")) == 1


def test_a_new_window_warns_again(workspace: Workspace) -> None:
    set_budget(workspace, daily=usd("10"))
    task = new_task(workspace)
    spend(workspace, task, 9.0, at=datetime(2026, 12, 1, 12, tzinfo=UTC))
    spend(workspace, task, 9.0, at=datetime(2026, 12, 2, 12, tzinfo=UTC))
    windows = sorted(a.payload["window"] for a in alerts(workspace, "warning"))
    assert windows == ["2026-12-01", "2026-12-02"]


class CaptureRuntime(Runtime):
    """Records the per-run cap each run was started with."""

    name: ClassVar[str] = "capture"
    label: ClassVar[str] = "Capture"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(simulated=True)
    caps: ClassVar[list[float | None]] = []

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        self.caps.append(request.max_budget_usd)
        return _Done()


class _Done(AgentRun):
    async def events(self) -> AsyncIterator[RuntimeEvent]:
        yield ResultEvent(text="ok")

    async def cancel(self) -> None:
        return None


@pytest.fixture
def capture(workspace: Workspace) -> Iterator[Workspace]:
    CaptureRuntime.caps.clear()
    workspace.runtimes.register(CaptureRuntime())
    workspace.start_worker("worker")
    yield workspace
    workspace.stop_worker()


def test_each_run_gets_a_per_run_cap(capture: Workspace) -> None:
    task = new_task(capture, runtime="capture")
    run(capture, task)
    assert capture.tasks.get(task.id).options.limits.max_budget_usd is None  # not persisted
    set_budget(capture, per_run=usd("0.5"))
    run(capture, task)
    set_budget(capture, daily=usd("0.3"))
    run(capture, task)
    capture.tasks.update(task.id, {"options": {"limits": {"max_budget_usd": "0.1"}}})
    run(capture, task)
    assert CaptureRuntime.caps == [2.0, 0.5, 0.3, 0.1]
    assert capture.tasks.get(task.id).options.limits.max_budget_usd == Decimal("0.1")
    runs = capture.tasks.runs(task.id)
    assert [r.options.limits.max_budget_usd for r in runs] == [None, None, None, Decimal("0.1")]
    notes = [e.payload for e in capture.tasks.events(task.id) if e.kind == "note"]
    assert [n["max_budget_usd"] for n in notes] == ["0.30", "0.10"]


def test_an_unreadable_policy_refuses_every_run(worker: Workspace) -> None:
    set_budget(worker, daily=usd("5"))
    with worker.store.write() as session:
        session.execute(text("UPDATE budgets SET on_breach = 'explode'"))
    refused = run(worker, new_task(worker))
    assert refused.status is TaskStatus.FAILED
    assert refused.error is not None
    assert refused.error.startswith("budget policy unreadable: budget bgt_")
    assert "invalid on_breach 'explode'" in refused.error
    assert "new provider calls are refused" in refused.error


def test_a_database_error_reading_the_policy_fails_closed(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(session: object) -> None:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(budget_repo, "list_budgets", broken)
    refused = run(worker, new_task(worker))
    assert refused.status is TaskStatus.FAILED
    assert refused.error == (
        "budget policy unreadable (RuntimeError: disk I/O error); new provider calls are "
        "refused until it can be read"
    )


def test_an_unknown_time_zone_fails_closed_once_a_cap_exists(tmp_path: Path) -> None:
    with Workspace.temporary(tmp_path / "tz", timezone="Mars/Olympus_Mons").open() as ws:
        ws.start_worker("worker")
        assert run(ws, new_task(ws)).status is TaskStatus.COMPLETED
        with pytest.raises(ValidationError, match="unknown time zone"):
            set_budget(ws, daily=usd("5"))
        with ws.store.write() as session:
            budget_repo.upsert(session, "overall", "", {"daily_cap_micros": 5_000_000})
        refused = run(ws, new_task(ws))
        assert refused.error is not None
        assert "unknown time zone 'Mars/Olympus_Mons'" in refused.error


def wait_until(check: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
