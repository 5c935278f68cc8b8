"""Workflows and the steps of their latest run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from stagent.domain.workflow_changes import Edited
from stagent.domain.workflow_runs import (
    BUILT_PATTERNS,
    StepCost,
    StepState,
    StepStatus,
    StopCode,
    Workflow,
    WorkflowStatus,
)
from stagent.ledger.money import usd_text
from stagent.schemas.base import Schema


class WorkflowStepSchema(Schema):
    """One step of the latest run: its child task, status and output.

    ``id`` is the definition step's id, or ``<template>#<n>`` for a step made at run time (a
    loop's n-th iteration, a planner-executor's n-th plan step); ``template`` and ``index`` split
    it. ``role`` is the step's part in its pattern (``step``, ``branch``, ``join``, ``planner``,
    ``executor``, ``iteration``, ``mayor``, ``worker``, ``refinery``). ``cost_usd`` is what its
    task's runs have really cost so far; ``simulated`` is true when they ran on a runtime that
    calls no model (the scripted one: simulated runs never count as spend, so ``cost_usd`` is
    ``0.00``). Both are null for a step with no task yet, and in lists."""

    id: str
    name: str
    template: str
    index: int | None
    role: str
    position: int
    status: StepStatus
    task_id: str | None
    output: str | None
    error: str | None
    started_at: datetime | None
    ended_at: datetime | None
    cost_usd: str | None = None
    simulated: bool | None = None

    @classmethod
    def of(
        cls, state: StepState, workflow: Workflow, costs: Mapping[str, StepCost] | None = None
    ) -> WorkflowStepSchema:
        """Build from the domain value (the workflow gives names and roles; ``costs``, from
        `WorkflowService.step_costs`, each step's cost)."""
        cost = None
        if costs is not None and state.task_id:
            cost = costs.get(state.key, StepCost())
        return cls(
            id=state.key,
            name=workflow.step_name(state),
            template=state.template,
            index=state.index,
            role=workflow.step_role(state),
            position=state.position,
            status=state.status,
            task_id=state.task_id,
            output=state.output,
            error=state.error,
            started_at=state.started_at,
            ended_at=state.ended_at,
            cost_usd=usd_text(cost.micros) if cost is not None else None,
            simulated=cost.simulated if cost is not None else None,
        )


class WorkflowSchema(Schema):
    """A workflow: its definition, status and (in detail) the steps of its latest run.

    ``definition`` is the definition the latest run started from (a run keeps its copy; the
    steps are drawn from it), or the stored one before the first run. ``edited_after_run`` says
    the workflow was edited since that run; ``edited_definition`` is then the stored definition
    (what the next run runs, what ``PUT`` replaced), else null."""

    id: str
    name: str
    pattern: str
    pattern_built: bool
    status: WorkflowStatus
    stop_reason: str | None
    stop_code: StopCode | None
    """Why the run stopped, for machines: a loop's ``max_iterations``, ``time_budget``,
    ``agent_signaled``, ``human_pause``, ``human_cancel``, ``error``, or ``budget_exhausted``."""
    run_count: int
    project_id: str | None
    definition: dict[str, Any]
    edited_after_run: bool
    edited_definition: dict[str, Any] | None
    steps: list[WorkflowStepSchema]
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, workflow: Workflow, costs: Mapping[str, StepCost] | None = None) -> WorkflowSchema:
        """Build from the domain value (``costs``: each step's, `WorkflowService.step_costs`)."""
        return cls(
            id=workflow.id,
            name=workflow.name,
            pattern=workflow.pattern,
            pattern_built=workflow.pattern in BUILT_PATTERNS,
            status=workflow.status,
            stop_reason=workflow.stop_reason,
            stop_code=cast("StopCode | None", workflow.stop_code),
            run_count=workflow.run_count,
            project_id=workflow.project_id,
            definition=workflow.definition.model_dump(mode="json", exclude_none=True),
            edited_after_run=workflow.edited is not None,
            edited_definition=workflow.edited.model_dump(mode="json", exclude_none=True)
            if workflow.edited is not None
            else None,
            steps=[WorkflowStepSchema.of(s, workflow, costs) for s in workflow.steps],
            created_at=workflow.created_at,
            updated_at=workflow.updated_at,
            started_at=workflow.started_at,
            finished_at=workflow.finished_at,
        )


class StepChangeSchema(Schema):
    """A step both definitions hold whose fields differ."""

    id: str
    fields: list[str]


class WorkflowChangesSchema(Schema):
    """What an edit changed: steps added, removed and changed (with their fields), whether the
    steps' order changed, the settings outside the steps, and whether the project moved."""

    added: list[str]
    removed: list[str]
    changed: list[StepChangeSchema]
    reordered: bool
    settings: list[str]
    project: bool

    @classmethod
    def of(cls, edited: Edited) -> WorkflowChangesSchema:
        """Build from `WorkflowService.update`'s answer."""
        found = edited.changes
        return cls(
            added=list(found.added),
            removed=list(found.removed),
            changed=[StepChangeSchema(id=c.id, fields=list(c.fields)) for c in found.changed],
            reordered=found.reordered,
            settings=list(found.settings),
            project=edited.project_changed,
        )


class EditedWorkflowSchema(WorkflowSchema):
    """An edited workflow (`WorkflowSchema`) and what the edit changed (``changes``):
    ``PUT /api/v1/workflows/{id}`` and ``stagent workflow edit --json``."""

    changes: WorkflowChangesSchema

    @classmethod
    def edited(
        cls, edited: Edited, costs: Mapping[str, StepCost] | None = None
    ) -> EditedWorkflowSchema:
        """Build from `WorkflowService.update`'s answer (``costs`` as `WorkflowSchema.of`)."""
        base = WorkflowSchema.of(edited.workflow, costs)
        return cls(**dict(base), changes=WorkflowChangesSchema.of(edited))
