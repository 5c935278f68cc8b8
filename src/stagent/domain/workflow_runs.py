"""A workflow as stored, and the state of each step of its latest run (pure values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from stagent.domain.workflows import WorkflowDefinition

BUILT_PATTERNS = ("sequence", "parallel", "checkpoint", "planner-executor", "loop", "swarm")
"""Patterns the engine runs today; the others are stored and validated, and a run of one stops
at once with "the <pattern> pattern is not built yet"."""

INSTANCE_MARK = "#"
"""Separates a step made at run time from its template: ``<template id>#<n>`` is a loop's n-th
iteration or a planner-executor's n-th plan step (1-based), run with the template's settings."""

StopCode = Literal[
    "max_iterations",
    "time_budget",
    "budget_exhausted",
    "agent_signaled",
    "human_pause",
    "human_cancel",
    "error",
]
"""Why a run stopped, for machines (``stop_reason`` is the sentence for people). Loops record
the original's stop reasons (``max_iterations``, ``time_budget``, ``agent_signaled``,
``human_pause``, ``human_cancel``, ``error``) and ``budget_exhausted`` (a step was refused at a
budget cap: the run pauses, and resuming after the cap is raised continues)."""


class WorkflowStatus(StrEnum):
    """Where a workflow is: never run, running, paused by a person, or ended."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """True while an engine execution drives it (or it waits to)."""
        return self is WorkflowStatus.RUNNING


class StepStatus(StrEnum):
    """One step of one run."""

    PENDING = "pending"
    WAITING = "waiting"
    """Its checkpoint waits for a person (``requires_approval``)."""
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    """It never ran: a step it needs failed."""
    SKIPPED = "skipped"
    """It never ran: its condition was false (the error field says why)."""


@dataclass(frozen=True, slots=True)
class StepState:
    """A step of a workflow run: its child task, status and output."""

    key: str
    position: int
    status: StepStatus
    task_id: str | None = None
    output: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    name: str | None = None
    """The name of a step made at run time (a loop iteration, a plan step); None for a step of
    the definition, whose name is the definition's."""

    @property
    def template(self) -> str:
        """The definition step this one runs as (itself, or the template of an instance)."""
        return split_key(self.key)[0]

    @property
    def index(self) -> int | None:
        """An instance's number (iteration or plan step, from 1); None for a definition step."""
        return split_key(self.key)[1]


@dataclass(frozen=True, slots=True)
class StepCost:
    """What a step of a run has cost so far (`WorkflowService.step_costs`): ``micros`` is real
    spend only; ``simulated`` says its task runs on a runtime that calls no model (the scripted
    one), whose runs never count as spend (so its ``micros`` is 0)."""

    micros: int = 0
    simulated: bool = False


@dataclass(frozen=True, slots=True)
class Workflow:
    """A stored workflow and the state of its latest run.

    ``definition`` is what the latest run started from (its copy: an edit of the workflow does
    not change it, and every round of the run -- resume, retry -- runs it), or the stored
    definition before the first run; ``edited`` is the stored definition when an edit changed
    it since that run (what the next run runs and the editor shows), else None."""

    id: str
    definition: WorkflowDefinition
    status: WorkflowStatus
    run_count: int
    stop_reason: str | None
    project_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    steps: tuple[StepState, ...] = ()
    stop_code: str | None = None
    """Why the run stopped, as a `StopCode` (None while it runs or for runs before codes)."""
    edited: WorkflowDefinition | None = None
    """The stored definition, when an edit changed it since the latest run (None: unchanged)."""

    @property
    def current(self) -> WorkflowDefinition:
        """The stored definition: what the next run runs and the editor edits."""
        return self.edited or self.definition

    @property
    def name(self) -> str:
        """The workflow's name now (an edit may have renamed it since the latest run)."""
        return self.current.name

    @property
    def pattern(self) -> str:
        """The definition's pattern."""
        return self.definition.pattern

    def step_name(self, state: StepState) -> str:
        """A step's name: its own (run-time steps) or its definition step's."""
        if state.name:
            return state.name
        return next((s.name for s in self.definition.steps if s.id == state.key), state.key)

    def step_role(self, state: StepState) -> str:
        """What the step is in its pattern (see `step_role`)."""
        return step_role(self.definition, state.key)


def instance_key(template: str, index: int) -> str:
    """The key of the ``index``-th step made at run time from ``template`` (from 1)."""
    return f"{template}{INSTANCE_MARK}{index}"


def split_key(key: str) -> tuple[str, int | None]:
    """``(template, index)`` of a step key; index None for a step of the definition."""
    template, mark, index = key.partition(INSTANCE_MARK)
    return (template, int(index)) if mark and index.isdigit() else (key, None)


def initial_step_keys(definition: WorkflowDefinition) -> list[str]:
    """The steps a new run starts with (pending). A loop's iterations and a planner's executor
    steps are added while it runs (`instance_key`); their templates get no row."""
    if definition.pattern == "loop":
        return []
    if definition.pattern == "planner-executor":
        return [definition.steps[0].id]
    return [step.id for step in definition.steps]


def step_role(definition: WorkflowDefinition, key: str) -> str:
    """A step's part in its pattern, for views: ``step`` (sequence, checkpoint), ``branch`` /
    ``join`` (parallel), ``planner`` / ``executor``, ``iteration`` (loop), ``mayor`` /
    ``worker`` / ``refinery`` (swarm)."""
    template, _ = split_key(key)
    ids = [s.id for s in definition.steps]
    pattern = definition.pattern
    if pattern == "loop":
        return "iteration"
    if pattern == "planner-executor":
        return "planner" if template == ids[0] else "executor"
    if pattern == "swarm":
        return "mayor" if template == ids[0] else "refinery" if template == ids[-1] else "worker"
    if pattern == "parallel":
        step = next((s for s in definition.steps if s.id == template), None)
        return "join" if step is not None and step.depends_on else "branch"
    return "step"


def downstream(definition: WorkflowDefinition, keys: Sequence[str], key: str) -> list[str]:
    """The steps of a run (``keys``, in run order) that depend on step ``key``, which a retry or
    a re-run of it must run again: in a parallel workflow a branch's join; in a swarm the
    refinery after a worker (everything after the mayor); otherwise every later step, and any
    step whose ``depends_on`` names one of them."""
    ordered = list(keys)
    if key not in ordered:
        return []
    later = ordered[ordered.index(key) + 1 :]
    template = key.split("#", 1)[0]
    ids = [s.id for s in definition.steps]
    if definition.pattern == "parallel":
        found = {template}
        for step in definition.steps:
            if found & set(step.depends_on):
                found.add(step.id)
        return [k for k in later if k.split("#", 1)[0] in found]
    if definition.pattern == "swarm" and template not in (ids[0], ids[-1]):
        return [k for k in later if k.split("#", 1)[0] == ids[-1]]
    if definition.pattern == "swarm" and template == ids[-1]:
        return []
    return later


def engine_id_for(workflow_id: str, run_number: int, round_: int) -> str:
    """The durable engine's id of one execution (a resume or retry is a new round)."""
    return f"{workflow_id}-run-{run_number}-{round_}"
