"""`BudgetGuard`: the `RunGuard` the engine calls around every run.

- ``before_run``: admission (`BudgetService.admit`). Refused -> `BudgetBlockedError`, whose message
  becomes the run's error. With ``on_breach: pause`` the run is suspended on the breach card (a
  ``budget:<card>`` hold, `stagent.store.lifecycle.suspend`) and waits; a person's answer wakes it
  at once (the store's change signal, which other processes' commits ring too), then it runs, or
  ends cancelled. It returns the run's spending cap: min(the run's own
  ``limits.max_budget_usd``, the budget's per-run cap, the headroom reserved for the run); the
  engine puts it into the run's resolved options (nothing is written into the task).
- ``on_usage``: one ledger row per usage event, linked to the run; the reservation shrinks. Once
  the run's recorded spend reaches its cap, it returns why the run must make no further provider
  call, and the engine stops it (`stagent.runtimes.base.AgentRun.stop_calls`): on every runtime
  a run overshoots its cap by at most the call that reached it. A recovered run's cap is what its
  earlier attempts left; a call it reports again (same request id) is not counted again.
- ``after_run``: the run's meter is forgotten. Settlement needs no hook: the transaction that
  ends a run (`stagent.store.lifecycle.finish`, or a cancel) releases the run's reservation, marks
  the usage rows of a failed or cancelled run and sums its cost, so a crash between the end and
  the settlement cannot leave a reservation behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stagent.domain.events import UsageEvent
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task, TaskStatus
from stagent.governance import budgets_state as state
from stagent.governance.budgets import BudgetService
from stagent.governance.budgets_policy import BudgetBlockedError, CallScope
from stagent.governance.budgets_state import Admission
from stagent.ledger.money import micros_to_usd, parse_usd, shown_usd
from stagent.store import budgets as budget_repo
from stagent.store import lifecycle, waits
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo

log = logging.getLogger(__name__)

WAIT_FALLBACK_SECONDS = 5.0
"""A waiting run re-reads its card at least this often, should a wake-up ever be missed."""


def budget_hold(card_id: str) -> str:
    """The hold a budget breach card puts on a paused run."""
    return f"budget:{card_id}"


class BudgetGuard:
    """Budgets before every run, the ledger and the run's cap during it."""

    def __init__(self, budgets: BudgetService) -> None:
        self._budgets = budgets
        self._store = budgets.store
        self._meters: dict[str, _Meter] = {}

    async def before_run(self, task: Task, run: Run) -> Decimal | None:
        """Admit the run (reserving headroom), wait on a person if the budget says pause, or
        raise `BudgetBlockedError` naming the cap and its reset time. Returns the run's cap."""
        call = CallScope(
            runtime=run.runtime,
            project_id=task.project_id,
            task_id=task.id,
            run_id=run.id,
            model=run.options.model,
        )
        requested = _requested_cap(run.options.limits.max_budget_usd)
        while True:
            admission = self._budgets.admit(call, pausable=True, requested_cap=requested)
            if admission.allowed:
                break
            if admission.card_id is None:
                raise BudgetBlockedError(admission.message or "blocked by budget")
            await self._wait(task, run, admission)
        cap = admission.run_cap
        if run.attempt > 1:
            spent = self._budgets.run_spent(run.id)
            cap = max(0, cap - spent)
            if cap == 0:
                raise BudgetBlockedError(
                    f"blocked by budget: the run already spent {shown_usd(spent)}, its cap "
                    f"{shown_usd(admission.run_cap)}, before it was recovered"
                )
        self._meters[run.id] = _Meter(cap=cap)
        return micros_to_usd(cap)

    def on_usage(self, task: Task, run: Run, usage: UsageEvent) -> str | None:
        """Record the usage as a ledger row of the run (and shrink its reservation). Returns why
        the run must stop making provider calls once its spend reached its cap, else None."""
        entry, created = self._budgets.book_usage(task, usage, run_id=run.id, attempt=run.attempt)
        meter = self._meters.get(run.id)
        if meter is None or not created or entry.simulated:
            return None  # a simulated call spends nothing; a repeated one was counted before
        meter.spent += entry.cost_micros
        if meter.spent < meter.cap:
            return None
        return (
            f"stopped by budget: the run reached its cap of {shown_usd(meter.cap)} "
            f"(recorded spend {shown_usd(meter.spent)}); it made no further provider call"
        )

    def after_run(self, task: Task, run: Run, status: str) -> None:
        """Forget the run's meter (its settlement was the ending transaction's)."""
        del task, status
        self._meters.pop(run.id, None)

    # ---------------------------------------------------------------- pause mode

    async def _wait(self, task: Task, run: Run, admission: Admission) -> None:
        card_id = admission.card_id or ""
        hold = budget_hold(card_id)
        reason = f"{admission.message}; waiting for a person (inbox card {card_id})"
        with self._store.write() as session:
            lifecycle.suspend(session, run.id, hold, reason=reason)
        answer = await waits.until(self._store, lambda: self._probe(card_id, run.id, admission))
        if answer.get("action") == "cancel":
            raise BudgetBlockedError(self._cancel(task, run, admission))
        with self._store.write() as session:
            lifecycle.release(
                session, run.id, hold, reason=f"budget: a person chose to {_describe(answer)}"
            )

    def _probe(
        self, card_id: str, run_id: str, admission: Admission
    ) -> waits.Done[dict[str, Any]] | waits.Pending:
        with self._store.read() as session:
            card = budget_repo.find_item(session, card_id)
            status = RunStatus(run_repo.get_row(session, run_id).status)
        if status.is_terminal:
            raise BudgetBlockedError(f"{admission.message}; the task ended while it waited")
        if card is None:
            return waits.Done({"action": "cancel", "by": "card removed"})
        if card.response is not None:
            return waits.Done(card.response)
        return waits.Pending(WAIT_FALLBACK_SECONDS)

    def _cancel(self, task: Task, run: Run, admission: Admission) -> str:
        message = f"cancelled by a person at the budget cap: {admission.message}"
        call = CallScope(
            runtime=run.runtime, project_id=task.project_id, task_id=task.id, run_id=run.id
        )
        with self._store.write() as session:
            # Lock order: the task, then the run (as `lifecycle`), then the admission lock (as
            # `book_usage`: its run row, then the lock). The lock first deadlocked on PostgreSQL
            # with a booking of this run that held its row, and one of the two was aborted.
            row = task_repo.get_row(session, task.id, for_update=True, deleted=True)
            run_repo.get_row(session, run.id, for_update=True)
            budget_repo.lock_admissions(session)
            if admission.breach is not None:
                zone = self._budgets.zone
                state.blocked_row(session, call, admission.breach, zone, message=message)
            if TaskStatus(row.status) in (TaskStatus.WAITING, TaskStatus.RUNNING):
                lifecycle.finish(
                    session, run.id, RunStatus.CANCELLED, reason=message, error=message
                )
        return message


@dataclass
class _Meter:
    """One run's cap for this attempt and what the attempt's new usage rows cost."""

    cap: int
    spent: int = 0


def _describe(answer: dict[str, Any]) -> str:
    action = answer.get("action")
    if action == "raise":
        return f"raise the cap to {shown_usd(int(answer.get('new_cap_micros') or 0))}"
    if action == "allow":
        return f"allow {shown_usd(int(answer.get('allowed_micros') or 0))} more"
    return str(action)


def _requested_cap(value: Decimal | None) -> int | None:
    if value is None:
        return None
    return parse_usd(str(value), "limits.max_budget_usd")
