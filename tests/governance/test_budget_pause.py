"""``on_breach: pause``: blocked work waits in the inbox until a person raises the cap, allows
more, or cancels; it wakes the moment the answer is stored."""

from __future__ import annotations

import pytest
from budgettools import (
    costing,
    new_task,
    rows,
    set_budget,
    settled,
    spend,
    usd,
    wait_for_status,
)

from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.domain.tasks import Task, TaskStatus
from stagent.governance import budgets_guard
from stagent.workspace import Workspace


def _paused(ws: Workspace) -> tuple[Task, str]:
    """A task waiting on the overall daily cap of $1 (already spent)."""
    set_budget(ws, daily=usd("1"), per_run=usd("1"), on_breach="pause")
    spend(ws, new_task(ws, "earlier work"), 1.0)
    task = new_task(ws, "waits", costing(0.5))
    ws.tasks.run(task.id)
    waiting = wait_for_status(ws, task.id, TaskStatus.WAITING)
    (card,) = ws.budgets.breaches()
    assert card.kind == "budget_breach" and card.payload["task_ids"] == [task.id]
    assert "overall daily cap $1.00 reached" in card.title
    assert waiting.status is TaskStatus.WAITING
    return task, card.id


def _status_path(ws: Workspace, task: Task) -> list[str]:
    return [e.payload["to"] for e in ws.tasks.events(task.id) if e.kind == "status"]


def test_allow_more_lets_the_waiting_task_run(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The waiter's safety-net poll is two minutes away: only the commit can wake it in time.
    monkeypatch.setattr(budgets_guard, "WAIT_FALLBACK_SECONDS", 120.0)
    task, card = _paused(worker)
    worker.budgets.respond(card, "allow", usd("2"))
    wait_for_status(worker, task.id, TaskStatus.RUNNING, timeout=60)
    done = worker.tasks.wait(task.id)
    assert done.status is TaskStatus.COMPLETED
    assert _status_path(worker, done) == ["queued", "running", "waiting", "running", "completed"]
    settled(worker)
    daily = worker.budgets.status("overall").limits[0]
    assert (daily.cap, daily.allowance, daily.limit, daily.spent) == (
        1_000_000,
        2_000_000,
        3_000_000,
        1_500_000,
    )
    assert worker.budgets.breaches() == []


def test_raise_the_cap_lets_it_run_and_keeps_the_new_cap(worker: Workspace) -> None:
    task, card = _paused(worker)
    with pytest.raises(ValidationError, match="does not raise"):
        worker.budgets.respond(card, "raise", usd("0.5"))
    worker.budgets.respond(card, "raise", usd("5"))
    assert worker.tasks.wait(task.id).status is TaskStatus.COMPLETED
    assert worker.budgets.status("overall").limits[0].cap == 5_000_000


def test_cancel_ends_the_waiting_task_cancelled_with_a_blocked_row(worker: Workspace) -> None:
    task, card = _paused(worker)
    worker.budgets.respond(card, "cancel")
    done = worker.tasks.wait(task.id)
    assert done.status is TaskStatus.CANCELLED
    assert done.error is not None
    assert done.error.startswith("cancelled by a person at the budget cap: blocked by budget:")
    (blocked,) = rows(worker, status="blocked")
    assert blocked.task_id == task.id
    with pytest.raises(ConflictError, match="already answered"):
        worker.budgets.respond(card, "allow", usd("1"))


def test_cancelling_the_task_itself_stops_the_wait(worker: Workspace) -> None:
    task, card = _paused(worker)
    worker.tasks.cancel(task.id)
    assert worker.tasks.wait(task.id).status is TaskStatus.CANCELLED
    settled(worker)
    assert rows(worker, status="reserved") == []
    (still_open,) = worker.budgets.breaches()
    assert still_open.id == card


def test_waiting_tasks_share_one_card_per_window(worker: Workspace) -> None:
    first, card = _paused(worker)
    second = new_task(worker, "also waits", costing(0.5))
    worker.tasks.run(second.id)
    wait_for_status(worker, second.id, TaskStatus.WAITING)
    (shared,) = worker.budgets.breaches()
    assert shared.id == card and shared.payload["task_ids"] == [first.id, second.id]
    worker.budgets.respond(card, "allow", usd("2"))  # room for both ($1 reserved each)
    assert worker.tasks.wait(first.id).status is TaskStatus.COMPLETED
    assert worker.tasks.wait(second.id).status is TaskStatus.COMPLETED


def test_answers_are_validated(worker: Workspace) -> None:
    _, card = _paused(worker)
    with pytest.raises(ValidationError, match="needs an amount"):
        worker.budgets.respond(card, "allow")
    with pytest.raises(ValidationError, match="not one of raise, allow, cancel"):
        worker.budgets.respond(card, "shrug")
    with pytest.raises(NotFoundError):
        worker.budgets.respond("inb_nope", "cancel")
    worker.budgets.respond(card, "cancel")


def test_fail_mode_budgets_do_not_pause(worker: Workspace) -> None:
    set_budget(worker, daily=usd("1"))
    spend(worker, new_task(worker), 1.0)
    assert worker.tasks.wait(_started(worker)).status is TaskStatus.FAILED
    assert worker.budgets.breaches() == []


def _started(ws: Workspace) -> str:
    task = new_task(ws, "refused")
    ws.tasks.run(task.id)
    return task.id
