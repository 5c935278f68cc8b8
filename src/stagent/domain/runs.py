"""Runs: one execution of an agent on a runtime, as a record. Pure.

A run has a subject -- what it is a run *of*: a task today; a workflow step, a schedule firing and
a chat turn share the same record. Approval cards, usage rows, budget reservations and events
reference the run and, through it, its subject. ``attempt`` counts executions of the run (1, then
2 after a crash re-ran it); it is the run's fencing token: a write that names an older attempt is
refused (see `stagent.domain.lifecycle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from stagent.domain.run_options import RunOptions

SubjectKind = Literal["task", "workflow_step", "schedule_firing", "chat_turn"]
"""What a run can be a run of."""

FeedSubject = Literal[
    "task", "run", "approval", "budget", "workflow", "schedule", "chat", "scan", "workspace"
]
"""What an event of the change feed can be about."""


class RunStatus(StrEnum):
    """Where a run is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    """Suspended: it holds until a person (or a timer) releases every hold."""
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the run ended."""
        return self in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class Subject:
    """What something is about: a kind and an id (``task``/``tsk_...``)."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class Run:
    """One run, as stored."""

    id: str
    subject: Subject
    task_id: str | None
    number: int
    """1 for a subject's first run, 2 for its re-run ..."""
    runtime: str
    options: RunOptions
    status: RunStatus
    attempt: int = 0
    """Executions so far (0 while queued); the fencing token every write of the run checks."""
    waiting_on: tuple[str, ...] = ()
    """The holds of a suspended run (``approval:apr_...``, ``budget:inb_...``)."""
    stop_reason: str | None = None
    """Why it ended, in words (``completed``, the error, ``cancelled by a person`` ...)."""
    result: str | None = None
    error: str | None = None
    cost_micros: int = 0
    """What its usage cost, in millionths of a US dollar (settled when it ends)."""
    workflow_id: str | None = None
    """The durable engine's id of the workflow executing it."""
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def duration_seconds(self) -> float | None:
        """Wall time from start to end (None until it ended)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
