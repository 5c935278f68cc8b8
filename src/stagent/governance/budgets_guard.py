"""`BudgetGuard`: the `RunGuard` the engine calls around every task run.

- ``before_run``: admission (`BudgetService.admit`). Refused -> `BudgetBlockedError`, whose message
  becomes the task's error. With ``on_breach: pause`` the task moves to ``waiting`` and waits on
  the breach card; a person's answer wakes it at once (the store's change signal, which other
  processes' commits ring too), then it runs, or ends cancelled.
- The per-run cap reaches the runtime through the task's ``runtime_config["max_budget_usd"]``:
  the executor calls ``before_run`` and only then builds the `RunRequest` from the same `Task`
  value, so ``before_run`` writes the cap into that value's config (in memory: the stored config
  keeps what the person set; the task log notes the cap). It is min(the person's own
  ``max_budget_usd``, the budget's per-run cap, the headroom reserved for the run).
- ``on_usage``: one ledger row per usage event; the reservation shrinks by its cost.
- ``after_run``: the reservation is released; usage rows of failed or cancelled runs say so.
"""

from __future__ import annotations

import logging
from typing import Any

from stagent.domain.errors import ValidationError
from stagent.domain.events import UsageEvent
from stagent.domain.tasks import Task, TaskStatus
from stagent.governance import budgets_state as state
from stagent.governance.budgets import BudgetService
from stagent.governance.budgets_policy import BudgetBlockedError, CallScope
from stagent.governance.budgets_state import Admission
from stagent.ledger.money import format_usd, micros_to_usd, parse_usd
from stagent.store import budgets as budget_repo
from stagent.store import events as event_repo
from stagent.store import tasks as task_repo

log = logging.getLogger(__name__)

WAIT_FALLBACK_SECONDS = 5.0
"""A waiting task re-reads its card at least this often, should a wake-up ever be missed."""


class BudgetGuard:
    """Budgets before, the ledger during, settlement after every run."""

    def __init__(self, budgets: BudgetService) -> None:
        self._budgets = budgets
        self._store = budgets.store
        self._entries: dict[str, list[str]] = {}

    async def before_run(self, task: Task) -> None:
        """Admit the run (reserving headroom), wait on a person if the budget says pause, or
        raise `BudgetBlockedError` naming the cap and its reset time."""
        call = CallScope(
            runtime=task.runtime,
            project_id=task.project_id,
            task_id=task.id,
            model=_text(task.runtime_config.get("model")),
        )
        requested = _requested_cap(task.runtime_config.get("max_budget_usd"))
        waited = task.status is TaskStatus.WAITING
        while True:
            admission = self._budgets.admit(call, pausable=True, requested_cap=requested)
            if admission.allowed:
                break
            if admission.card_id is None:
                raise BudgetBlockedError(admission.message or "blocked by budget")
            await self._wait(task, admission)
            waited = True
        if waited:
            self._set_running(task.id, "budget: resuming")
        self._entries[task.id] = []
        task.runtime_config["max_budget_usd"] = float(micros_to_usd(admission.run_cap))

    def on_usage(self, task: Task, usage: UsageEvent) -> None:
        """Record the usage as a ledger row (and shrink the run's reservation)."""
        entry = self._budgets.record_usage(task, usage)
        self._entries.setdefault(task.id, []).append(entry.id)

    def after_run(self, task: Task, status: str) -> None:
        """Release the run's reservation; mark its usage rows if it failed or was cancelled."""
        entry_ids = self._entries.pop(task.id, [])
        try:
            self._budgets.release(task.id, outcome=status, entry_ids=entry_ids)
        except Exception:
            log.exception("task %s: could not release its budget reservation", task.id)

    # ---------------------------------------------------------------- pause mode

    async def _wait(self, task: Task, admission: Admission) -> None:
        card_id = admission.card_id or ""
        self._hold(task.id, admission)
        seen = self._store.changes.version
        while True:
            answer, status = self._look(card_id, task.id)
            if status.is_terminal:
                raise BudgetBlockedError(f"{admission.message}; the task ended while it waited")
            if answer is not None:
                break
            seen = await self._store.changes.wait_async(seen, WAIT_FALLBACK_SECONDS)
        if answer.get("action") == "cancel":
            message = self._cancel(task, admission)
            raise BudgetBlockedError(message)
        self._set_running(task.id, f"budget: a person chose to {_describe(answer)}")

    def _hold(self, task_id: str, admission: Admission) -> None:
        reason = f"{admission.message}; waiting for a person (inbox card {admission.card_id})"
        with self._store.write() as session:
            row = task_repo.get_row(session, task_id, for_update=True)
            if TaskStatus(row.status) is TaskStatus.RUNNING:
                task_repo.transition(session, task_id, TaskStatus.WAITING, reason=reason)
            else:
                event_repo.append(session, task_id, "note", {"message": reason})

    def _look(self, card_id: str, task_id: str) -> tuple[dict[str, Any] | None, TaskStatus]:
        with self._store.read() as session:
            card = budget_repo.find_item(session, card_id)
            status = TaskStatus(task_repo.get_row(session, task_id).status)
        if card is None:
            return {"action": "cancel", "by": "card removed"}, status
        return card.response, status

    def _set_running(self, task_id: str, reason: str) -> None:
        with self._store.write() as session:
            row = task_repo.get_row(session, task_id, for_update=True)
            if TaskStatus(row.status) is TaskStatus.WAITING:
                task_repo.transition(session, task_id, TaskStatus.RUNNING, reason=reason)

    def _cancel(self, task: Task, admission: Admission) -> str:
        message = f"cancelled by a person at the budget cap: {admission.message}"
        call = CallScope(runtime=task.runtime, project_id=task.project_id, task_id=task.id)
        with self._store.write() as session:
            budget_repo.lock_admissions(session)
            if admission.breach is not None:
                zone = self._budgets.zone
                state.blocked_row(session, call, admission.breach, zone, message=message)
            row = task_repo.get_row(session, task.id, for_update=True)
            if TaskStatus(row.status) in (TaskStatus.WAITING, TaskStatus.RUNNING):
                task_repo.transition(
                    session, task.id, TaskStatus.CANCELLED, reason=message, error=message
                )
        return message


def _describe(answer: dict[str, Any]) -> str:
    action = answer.get("action")
    if action == "raise":
        return f"raise the cap to {format_usd(int(answer.get('new_cap_micros') or 0))}"
    if action == "allow":
        return f"allow {format_usd(int(answer.get('allowed_micros') or 0))} more"
    return str(action)


def _requested_cap(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return parse_usd(str(value), "runtime_config.max_budget_usd")
    except ValidationError:
        raise
    except Exception:
        raise ValidationError(
            f"runtime_config.max_budget_usd: {value!r} is not an amount"
        ) from None


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None
