"""A task's runs are its history: each run is a record that its events, approval cards, usage
rows and cost hang on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "governance"))
from approvaltools import wait_for_card_sync, write_step
from budgettools import costing

from stagent.domain.approvals import person
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.store import ledger as ledger_repo
from stagent.workspace import Workspace


def test_each_run_of_a_task_is_its_own_record_with_its_own_events_and_cost(
    worker: Workspace,
) -> None:
    task = worker.tasks.create(TaskDraft(title="twice", scenario=costing(0.25)))
    worker.tasks.run(task.id)
    assert worker.tasks.wait(task.id, timeout=30).status is TaskStatus.COMPLETED
    worker.tasks.run(task.id)
    assert worker.tasks.wait(task.id, timeout=30).status is TaskStatus.COMPLETED

    first, second = worker.tasks.runs(task.id)
    assert (first.number, second.number) == (1, 2)
    for run in (first, second):
        assert run.status is RunStatus.COMPLETED and run.attempt == 1
        assert run.result == "done" and run.cost_micros == 250_000
        assert run.started_at is not None and run.ended_at is not None
        kinds = [e.kind for e in worker.tasks.run_events(run.id)]
        assert kinds[0] == "status" and kinds[-1] == "status" and "usage" in kinds
    assert not {e.seq for e in worker.tasks.run_events(first.id)} & {
        e.seq for e in worker.tasks.run_events(second.id)
    }
    rows = worker.budgets.usage(ledger_repo.LedgerFilter(task_id=task.id))
    spent = [row for row in rows if row.status == "completed"]
    assert sorted(row.run_id for row in spent) == sorted([first.id, second.id])


def test_an_approval_card_hangs_on_the_run_that_asked(worker: Workspace) -> None:
    task = worker.tasks.create(
        TaskDraft(title="asks", scenario={"steps": [write_step()], "result": "ok"})
    )
    worker.tasks.run(task.id)
    card = wait_for_card_sync(worker, task.id)
    [run] = worker.tasks.runs(task.id)
    assert card.run_id == run.id
    waiting = worker.tasks.run_record(run.id)
    assert waiting.status is RunStatus.WAITING
    assert waiting.waiting_on == (f"approval:{card.id}",)
    worker.approvals.allow(card.id, by=person("CLI"))
    assert worker.tasks.wait(task.id, timeout=30).status is TaskStatus.COMPLETED
    done = worker.tasks.run_record(run.id)
    assert done.status is RunStatus.COMPLETED and done.waiting_on == ()
    approvals = [e for e in worker.tasks.run_events(run.id) if e.kind in ("approval", "decision")]
    assert [e.kind for e in approvals] == ["approval", "decision"]


def test_options_are_validated_when_a_task_is_saved_naming_the_field(
    workspace: Workspace,
) -> None:
    from stagent.domain.errors import ValidationError

    with pytest.raises(ValidationError, match=r"^options\.limits\.max_turns: "):
        workspace.tasks.create(TaskDraft(title="t", options={"limits": {"max_turns": 0}}))
    with pytest.raises(ValidationError, match=r"^options\.codex: options for the codex runtime"):
        workspace.tasks.create(TaskDraft(title="t", options={"codex": {"sandbox": "read-only"}}))
    with pytest.raises(ValidationError, match=r"^options\.colour: not a run option"):
        workspace.tasks.create(TaskDraft(title="t", options={"colour": "blue"}))
    task = workspace.tasks.create(TaskDraft(title="t", options={"model": "m"}))
    with pytest.raises(ValidationError, match=r"^options\.claude\.gate: "):
        workspace.tasks.update(task.id, {"runtime": "claude", "options": {"claude": {"gate": 1}}})
    moved = workspace.tasks.update(task.id, {"runtime": "claude"})
    assert moved.options.runtime == "claude" and moved.options.model == "m"
