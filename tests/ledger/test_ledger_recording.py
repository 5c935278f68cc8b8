"""Every usage event of a run becomes one ledger row, linked to its task and project."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from stagent.domain.events import UsageEvent
from stagent.domain.tasks import Task
from stagent.engine.services import TaskDraft
from stagent.ledger.views import entry_json
from stagent.store import ledger as ledger_repo
from stagent.workspace import Workspace


def new_task(ws: Workspace) -> Task:
    """A task on the test-only ``metered`` runtime: its usage counts as real spend."""
    return ws.tasks.create(TaskDraft(title="t", runtime="metered", scenario=scenario()))


def rows(ws: Workspace, **where: Any) -> list[ledger_repo.LedgerEntry]:
    return ws.budgets.usage(ledger_repo.LedgerFilter(**where), limit=1000)


def scenario(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"steps": list(steps), "result": "ok"}


def test_a_scripted_runs_usage_steps_become_ledger_rows(worker: Workspace) -> None:
    project = worker.projects.create("Ledgered")
    task = worker.tasks.create(
        TaskDraft(
            title="metered",
            project="Ledgered",
            scenario=scenario(
                {"usage": {"model": "scripted-1", "input_tokens": 120, "output_tokens": 40}},
                {"text": "half way"},
                {
                    "usage": {
                        "model": "scripted-1",
                        "input_tokens": 10,
                        "output_tokens": 5,
                        "cache_write_tokens": 7,
                        "cache_read_tokens": 30,
                        "cost_usd": 0.0125,
                    }
                },
            ),
        )
    )
    worker.tasks.run(task.id)
    assert worker.tasks.wait(task.id).status.value == "completed"
    first, second = reversed(rows(worker, task_id=task.id))
    for row in (first, second):
        assert (row.task_id, row.project_id) == (task.id, project.id)
        assert (row.runtime, row.provider, row.activity) == ("scripted", "simulated", "task_run")
        assert row.status == "completed"
    assert (first.input_tokens, first.output_tokens) == (120, 40)
    assert (first.cost_micros, first.cost_source, first.note) == (
        0,
        "none",
        "simulated: no model was called",
    )
    assert (second.cache_write_5m_tokens, second.cache_read_tokens) == (7, 30)
    assert (second.cost_micros, second.cost_source) == (12_500, "reported")
    assert entry_json(second)["cost_usd"] == "0.0125"
    # A scripted run calls no model: its rows are simulated and never count as spend.
    assert first.simulated and second.simulated and first.source == "run"
    assert worker.budgets.status("overall").limits[0].spent == 0


def test_usage_rows_of_a_failed_run_say_it_failed(worker: Workspace) -> None:
    task = worker.tasks.create(
        TaskDraft(
            title="spent then failed",
            scenario=scenario(
                {"usage": {"model": "scripted-1", "input_tokens": 1, "cost_usd": 0.5}},
                {"fail": "provider said 500"},
            ),
        )
    )
    worker.tasks.run(task.id)
    assert worker.tasks.wait(task.id).status.value == "failed"
    deadline = time.monotonic() + 10  # the run's rows are marked just after its final status
    while rows(worker, task_id=task.id)[0].status != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (row,) = rows(worker, task_id=task.id)
    assert (row.status, row.cost_micros) == ("failed", 500_000)


def test_an_unpriced_model_is_recorded_and_noted_in_the_task_log(workspace: Workspace) -> None:
    task = new_task(workspace)
    usage = UsageEvent(model="claude-opus-9", input_tokens=100, output_tokens=20)
    claude_task = _with_runtime(task, "claude")
    entry = workspace.budgets.record_usage(claude_task, usage)
    assert (entry.cost_source, entry.cost_micros, entry.provider) == ("unpriced", 0, "anthropic")
    assert entry.note is not None and "UNPRICED" in entry.note
    notes = [e for e in workspace.tasks.events(task.id) if e.kind == "note"]
    assert notes and notes[-1].payload["unpriced_model"] == "claude-opus-9"
    status = workspace.budgets.status("overall")
    assert status.limits[1].unpriced == 1


def test_computed_rows_carry_the_pricing_version_and_raw_counts(workspace: Workspace) -> None:
    task = _with_runtime(new_task(workspace), "codex")
    usage = UsageEvent(model="gpt-5", input_tokens=8000, cache_read_tokens=2000, output_tokens=300)
    entry = workspace.budgets.record_usage(task, usage)
    assert (entry.cost_micros, entry.cost_source, entry.provider) == (13_250, "computed", "openai")
    assert entry.pricing_version == "stagent-2026-12-01"
    assert entry.raw is not None and entry.raw["input_tokens"] == 8000


def _with_runtime(task: Task, runtime: str) -> Task:
    return replace(task, runtime=runtime)


@pytest.mark.postgres
def test_ledger_rows_and_filters_on_postgresql(pg_workspace: Workspace) -> None:
    task = new_task(pg_workspace)
    for cost in (0.25, 0.5):
        pg_workspace.budgets.record_usage(task, UsageEvent(model="scripted-1", cost_usd=cost))
    entries = rows(pg_workspace, task_id=task.id)
    assert sorted(e.cost_micros for e in entries) == [250_000, 500_000]
    assert rows(pg_workspace, status="blocked") == []
    with pg_workspace.store.read() as session:
        (total,) = ledger_repo.spend(
            session, [ledger_repo.SpendQuery("overall", "", entries[-1].finished_at)]
        )
    assert total.total == 750_000
