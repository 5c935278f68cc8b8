"""The task lifecycle as an explicit state machine, and the Task and Project values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from stagent.domain.errors import InvalidTransitionError
from stagent.domain.run_options import RunOptions


class TaskStatus(StrEnum):
    """Where a task is in its life."""

    PLANNED = "planned"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    """Running, but paused while a person is asked something."""
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for states a run ends in."""
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        """True while a run owns the task (queued, running or waiting)."""
        return self in ACTIVE_STATES


S = TaskStatus
TERMINAL_STATES = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})
ACTIVE_STATES = frozenset({S.QUEUED, S.RUNNING, S.WAITING})

TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.PLANNED: frozenset({S.QUEUED, S.CANCELLED}),
    S.QUEUED: frozenset({S.RUNNING, S.PLANNED, S.CANCELLED, S.FAILED}),
    S.RUNNING: frozenset({S.WAITING, S.COMPLETED, S.FAILED, S.CANCELLED}),
    S.WAITING: frozenset({S.RUNNING, S.FAILED, S.CANCELLED}),
    S.COMPLETED: frozenset({S.PLANNED, S.QUEUED}),
    S.FAILED: frozenset({S.PLANNED, S.QUEUED}),
    S.CANCELLED: frozenset({S.PLANNED, S.QUEUED}),
}
"""Every edge of the lifecycle. Anything else is an `InvalidTransitionError`."""

BOARD_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.PLANNED: frozenset({S.QUEUED}),
    S.QUEUED: frozenset({S.PLANNED}),
    S.COMPLETED: frozenset({S.PLANNED}),
    S.FAILED: frozenset({S.PLANNED}),
    S.CANCELLED: frozenset({S.PLANNED}),
}
"""The narrower set of moves a person may make by dragging a card on the Board."""

RUNNABLE_FROM = frozenset({S.PLANNED, S.QUEUED, S.COMPLETED, S.FAILED, S.CANCELLED})
"""States from which ``task run`` may start a new run (it passes through ``queued``)."""


def check_transition(current: TaskStatus, target: TaskStatus, *, task_id: str = "") -> None:
    """Raise `InvalidTransitionError` unless ``current -> target`` is an edge of the lifecycle."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none"
        subject = f"task {task_id}" if task_id else "a task"
        raise InvalidTransitionError(
            f"cannot move {subject} from {current.value} to {target.value}",
            hint=f"from {current.value} a task can move to: {allowed}",
        )


@dataclass(frozen=True, slots=True)
class Project:
    """A body of work with an optional working directory the agents run in."""

    id: str
    name: str
    description: str
    working_directory: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Task:
    """One unit of agent work."""

    id: str
    title: str
    description: str
    status: TaskStatus
    project_id: str | None
    runtime: str
    profile: str | None
    priority: int
    result: str | None
    error: str | None
    options: RunOptions = field(default_factory=RunOptions)
    """The options each of its runs starts from (`stagent.engine.options` resolves them)."""
    workflow_id: str | None = None
    session_id: str | None = None
    run_count: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
