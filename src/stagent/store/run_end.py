"""A run's end and the transition check every move of `stagent.store.lifecycle` passes.

`end_run` writes a run's end and settles it (reservation released, usage marked, cost summed) in
the caller's transaction; `check_move` checks a proposed move against `stagent.domain.lifecycle`.
Only `stagent.store.lifecycle` calls them: it owns run and task state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from stagent.domain.errors import InvalidTransitionError
from stagent.domain.ids import utcnow
from stagent.domain.lifecycle import Proposal, check
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import ledger as ledger_repo
from stagent.store import run_state
from stagent.store import runs as run_repo
from stagent.store.tables import RunRow, TaskRow


@dataclass(frozen=True, slots=True)
class RunState:
    """What the transition rules read of a run."""

    id: str
    status: RunStatus
    attempt: int

    @classmethod
    def of(cls, run: Run) -> RunState:
        """A run value's."""
        return cls(run.id, run.status, run.attempt)

    @classmethod
    def of_row(cls, row: RunRow) -> RunState:
        """A loaded run row's."""
        return cls(row.id, RunStatus(row.status), row.attempt)


def task_of(row: TaskRow | None) -> tuple[str | None, TaskStatus | None]:
    """A loaded task row's id and status, as `check_move` takes them (None, None without one)."""
    return (row.id, TaskStatus(row.status)) if row is not None else (None, None)


def check_move(
    run: RunState,
    task_id: str | None,
    task_status: TaskStatus | None,
    target: RunStatus,
    attempt: int | None,
) -> None:
    """Check a run's proposed move (and its task's) against `stagent.domain.lifecycle`'s rules
    (`InvalidTransitionError`, `StaleAttemptError` for a superseded ``attempt``)."""
    check(
        Proposal(
            run_id=run.id,
            current=run.status,
            target=target,
            attempt=run.attempt,
            writer_attempt=attempt,
            task_id=task_id,
            task_current=task_status,
        )
    )


def storable(text: str | None) -> str | None:
    """``text`` as every backend can store it: PostgreSQL's text columns refuse the NUL
    character (an agent's output or a crashed CLI's error may hold one; the run could not end),
    so each becomes U+FFFD, the replacement character."""
    return text.replace("\x00", "\ufffd") if text else text


def end_run(
    session: Session,
    run_id: str,
    target: RunStatus,
    reason: str,
    *,
    result: str | None = None,
    error: str | None = None,
    booked: run_repo.Booked | None = None,
) -> dict[str, Any]:
    """End the run and settle it in the same transaction: its budget reservation is released
    (exactly once, by run), the usage rows of a failed or cancelled run say so, and its cost is
    summed from its ledger rows. A crash either ends and settles it, or does neither. Returns
    the values written. ``booked``: the run's ledger sums if this transaction read them already
    (`run_state.end_state` on SQLite), else they are read here."""
    if target not in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
        raise InvalidTransitionError(f"{target.value} does not end a run")
    if booked is None:
        booked = run_repo.booked(session, run_id)
    if booked.reserved:
        ledger_repo.release_reservations(session, run_id, note=f"released: the run {target.value}")
    if booked.completed and target is not RunStatus.COMPLETED:
        ledger_repo.mark_run_outcome(session, run_id, target.value)
    ended = ended_values(target, reason, result, error, booked.spent)
    run_state.write(session, RunRow, run_id, ended)
    return ended


def ended_values(
    target: RunStatus, reason: str, result: str | None, error: str | None, spent: int
) -> dict[str, Any]:
    """The values a run's end writes to its row (`end_run`'s, and SQLite's end on the driver,
    `stagent.store.hot_end`): checked ``target`` (it ends a run), ``spent`` its ledger sum."""
    if target not in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
        raise InvalidTransitionError(f"{target.value} does not end a run")
    return {
        "status": target.value,
        "stop_reason": reason,
        "result": result,
        "error": error,
        "waiting_on": list[str](),
        "ended_at": utcnow(),
        "cost_micros": spent,
    }


def status_payload(
    current: TaskStatus, target: TaskStatus, reason: str | None, run_number: int | None
) -> dict[str, Any]:
    """The payload of a task's ``status`` event (every move `stagent.store.lifecycle` logs)."""
    payload: dict[str, Any] = {"from": current.value, "to": target.value}
    if reason:
        payload["reason"] = reason
    if run_number is not None:
        payload["run"] = run_number
    return payload
