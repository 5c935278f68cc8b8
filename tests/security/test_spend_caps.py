"""Spending past a cap, as the probe did it: twenty runs started at once against a daily cap with
room for three, each of which would go on calling the model well past its share.

Admission lets three in (each reserves its per-run cap); the recorder stops each of them at the
call that reaches its cap, so the day ends at the cap, not past it. The runs use the test-only
``metered`` runtime (scripted scenarios booked as real spend), in one worker running twenty
tasks at once, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from captools import WIDE, metered_runtime_fixture, wide_fixture, wide_pg_fixture  # noqa: F401
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.ledger.money import parse_usd
from stagent.store.ledger import LedgerFilter
from stagent.workspace import Workspace

STARTS = WIDE
CALL_USD = 0.06
CALLS_WANTED = 5  # $0.30 a run, past its $0.18 share


def greedy(calls: int = CALLS_WANTED, usd: float = CALL_USD) -> dict[str, Any]:
    """A run that keeps calling the model: ``calls`` calls of ``usd`` each, then a result."""
    steps: list[dict[str, Any]] = []
    for n in range(calls):
        steps.append({"delay": 0.2})
        steps.append({"usage": {"model": "scripted-1", "input_tokens": 10 + n, "cost_usd": usd}})
        steps.append({"text": f"call {n + 1} done. "})
    return {"steps": steps, "result": "spent it all"}


def micros(amount: str) -> int:
    return parse_usd(amount, "test")


def run_capped(
    ws: Workspace, scenario: dict[str, Any], cap_usd: float, runtime: str = "metered"
) -> Task:
    """Run ``scenario`` with a per-run cap of ``cap_usd`` and wait for it to end."""
    draft = TaskDraft(
        title=f"capped at {cap_usd}",
        runtime=runtime,
        scenario=scenario,
        options={"limits": {"max_budget_usd": cap_usd}},
    )
    task = ws.tasks.create(draft)
    ws.tasks.run(task.id)
    return ws.tasks.wait(task.id, timeout=60)


def _twenty_greedy_runs_end_the_day_at_the_cap(ws: Workspace) -> None:
    ws.budgets.set(BudgetChange(daily=micros("0.54"), per_run=micros("0.18")))
    tasks = [
        ws.tasks.create(TaskDraft(title=f"greedy {n}", runtime="metered", scenario=greedy()))
        for n in range(STARTS)
    ]
    for task in tasks:
        ws.tasks.run(task.id)
    done = [ws.tasks.wait(task.id, timeout=90) for task in tasks]

    outcomes = Counter((t.error or "").split(":")[0] for t in done)
    assert outcomes == {"blocked by budget": STARTS - 3, "stopped by budget": 3}, done
    stopped = [t for t in done if (t.error or "").startswith("stopped by budget")]
    assert all(t.status is TaskStatus.FAILED for t in stopped)
    assert all("reached its cap of $0.18" in (t.error or "") for t in stopped)
    calls = [
        r
        for r in ws.budgets.usage(LedgerFilter(source="run"), limit=1000)
        if r.status in ("completed", "failed")
    ]
    per_run = Counter(r.task_id for r in calls)
    assert sorted(per_run.values()) == [3, 3, 3]  # the fourth call was never made
    for task in stopped:
        log = [e.kind for e in ws.tasks.events(task.id)]
        assert log.count("usage") == 3 and log[-2:] == ["error", "status"]
    daily = ws.budgets.status("overall").limits[0]
    assert daily.spent == micros("0.54")  # at the cap, not past it
    assert ws.tasks.runs(stopped[0].id)[0].cost_micros == micros("0.18")


def test_a_run_whose_last_call_reaches_its_cap_completes(wide: Workspace) -> None:
    """Reaching the cap stops the next call, not the run's result."""
    done = run_capped(wide, greedy(calls=3), 0.18)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result == "spent it all"


def test_twenty_greedy_runs_end_the_day_at_the_cap(wide: Workspace) -> None:
    _twenty_greedy_runs_end_the_day_at_the_cap(wide)


@pytest.mark.postgres
def test_twenty_greedy_runs_end_the_day_at_the_cap_on_postgresql(wide_pg: Workspace) -> None:
    _twenty_greedy_runs_end_the_day_at_the_cap(wide_pg)


def test_a_run_overshoots_its_own_cap_by_at_most_the_call_that_reached_it(
    wide: Workspace,
) -> None:
    """Without a daily cap, a run's own ``max_budget_usd`` (here $0.10 with calls of $0.06)
    stops it after the call that reached it: $0.12, never a third call."""
    done = run_capped(wide, greedy(), 0.10)
    assert done.status is TaskStatus.FAILED
    assert (done.error or "").startswith("stopped by budget: the run reached its cap of $0.10")
    (run,) = wide.tasks.runs(done.id)
    assert run.cost_micros == micros("0.12")


def test_a_simulated_run_is_never_stopped_by_a_cap(wide: Workspace) -> None:
    """The scripted runtime spends nothing: its runs play to the end whatever they report."""
    done = run_capped(wide, greedy(usd=5.0), 0.10, runtime="scripted")
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result == "spent it all"
