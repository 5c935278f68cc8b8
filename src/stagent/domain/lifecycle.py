"""The one table of allowed transitions for runs and tasks, and the rules applied to every
proposed change, in order (like Prefect's orchestration rules). Pure.

`stagent.store.lifecycle` is the only caller that writes state: it builds a `Proposal`, calls
`check`, then writes the run, the task and one ``status`` event in one transaction. A rule
either accepts the proposal (returns) or rejects it (raises a `StagentError` saying why).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stagent.domain.errors import ConflictError, InvalidTransitionError
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TRANSITIONS as TASK_TRANSITIONS
from stagent.domain.tasks import TaskStatus

R = RunStatus
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    R.QUEUED: frozenset({R.RUNNING, R.CANCELLED, R.FAILED}),
    R.RUNNING: frozenset({R.WAITING, R.COMPLETED, R.FAILED, R.CANCELLED}),
    R.WAITING: frozenset({R.RUNNING, R.FAILED, R.CANCELLED}),
    R.COMPLETED: frozenset(),
    R.FAILED: frozenset(),
    R.CANCELLED: frozenset(),
}
"""Every edge of a run's life; an ended run never changes again."""


class StaleAttemptError(ConflictError):
    """A write names an attempt of a run that a newer attempt superseded (fencing)."""

    code = "stale_attempt"


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed change of one run (and the task it is the run of)."""

    run_id: str
    current: RunStatus
    target: RunStatus
    attempt: int
    """The run's attempt as stored."""
    writer_attempt: int | None = None
    """The attempt the writer executes (None: a person or the reconciler, not an executor)."""
    task_id: str | None = None
    task_current: TaskStatus | None = None


Rule = Callable[[Proposal], None]


def known_edge(proposal: Proposal) -> None:
    """The run moves along an edge of `RUN_TRANSITIONS`."""
    if proposal.target not in RUN_TRANSITIONS[proposal.current]:
        allowed = ", ".join(sorted(RUN_TRANSITIONS[proposal.current])) or "nothing (it ended)"
        raise InvalidTransitionError(
            f"cannot move run {proposal.run_id} from {proposal.current.value} to "
            f"{proposal.target.value}",
            hint=f"from {proposal.current.value} a run can move to: {allowed}",
        )


def fenced(proposal: Proposal) -> None:
    """An executor may only write for the attempt it executes (a resumed, superseded worker is
    refused)."""
    if proposal.writer_attempt is not None and proposal.writer_attempt != proposal.attempt:
        raise StaleAttemptError(
            f"attempt {proposal.writer_attempt} of run {proposal.run_id} was superseded by "
            f"attempt {proposal.attempt}; its write was refused",
            hint="another worker took the run over; nothing to do",
        )


def task_follows(proposal: Proposal) -> None:
    """The run's task can follow it (the task's table allows the same move)."""
    current, target = proposal.task_current, TaskStatus(proposal.target.value)
    if current is None or current is target:
        return
    if target not in TASK_TRANSITIONS[current]:
        raise InvalidTransitionError(
            f"cannot move task {proposal.task_id} from {current.value} to {target.value}",
            hint="the task moved on without this run",
        )


RULES: tuple[Rule, ...] = (known_edge, fenced, task_follows)
"""Applied in this order to every proposed run transition."""


def check(proposal: Proposal) -> None:
    """Apply every rule; the first to object raises."""
    for rule in RULES:
        rule(proposal)
