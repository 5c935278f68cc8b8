"""What the workflow run view shows, gathered from the public services (shared by the page,
its actions and the live stream)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from stagent.domain.errors import NotFoundError
from stagent.domain.ids import utcnow
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_changes import changes, describe
from stagent.domain.workflow_runs import (
    BUILT_PATTERNS,
    StepCost,
    StepStatus,
    Workflow,
    WorkflowStatus,
)
from stagent.ledger.money import shown_usd
from stagent.web.ui import workflow_graph as graph
from stagent.workspace import Workspace

STATUSES = tuple(s.value for s in WorkflowStatus)
STATUS_LABELS = {"draft": "Not run yet"} | {s: s.capitalize() for s in STATUSES if s != "draft"}


def run_context(ws: Workspace, workflow: Workflow) -> dict[str, Any]:
    """The run view's graph, timeline and actions for the latest run."""
    costs = ws.workflows.step_costs(workflow) if workflow.run_count else {}
    nodes = graph.nodes(workflow, costs, utcnow())
    status = workflow.status
    active = status in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED)
    waits = asking(ws, workflow)
    label, css = status_badge(ws, workflow, waits)
    return {
        "wf": workflow,
        "asking": waits,
        "layers": graph.layers(workflow, nodes),
        "timeline": graph.timeline(nodes),
        "iterations": [n for n in nodes if n.instance and n.role == "Iteration"],
        "clock": graph.clock,
        "total_cost": total_cost(costs.values()) if workflow.run_count else "",
        "pattern_built": workflow.pattern in BUILT_PATTERNS,
        "can_run": not active,
        "can_pause": status is WorkflowStatus.RUNNING,
        "can_resume": status is WorkflowStatus.PAUSED,
        "can_cancel": active,
        "can_edit": not active,
        "status_label": label,
        "status_class": css,
        "counts": Counter(n.status for n in nodes),
        "edited": edited_lines(workflow),
    }


def edited_lines(workflow: Workflow) -> list[str]:
    """What an edit changed since the latest run, one line per kind (empty: not edited)."""
    if workflow.edited is None:
        return []
    return describe(changes(workflow.definition, workflow.edited)) or ["the definition changed"]


def total_cost(costs: Iterable[StepCost]) -> str:
    """The run's cost for its header: the real spend, "simulated" when every step that ran was
    simulated (no model called, nothing spent), both when some were."""
    costs = list(costs)
    real = [c.micros for c in costs if not c.simulated]
    if not costs or real and len(real) == len(costs):
        return shown_usd(sum(real))
    if not real:
        return "simulated"
    return f"{shown_usd(sum(real))} + simulated steps"


def status_badge(
    ws: Workspace, workflow: Workflow, waits: frozenset[str] | None = None
) -> tuple[str, str]:
    """The status a person reads for a workflow and its badge class: "Waiting for you" while a
    running one waits for a person at some step (``waits``: `asking`, read when not given)."""
    status = workflow.status
    if status is WorkflowStatus.RUNNING and (asking(ws, workflow) if waits is None else waits):
        return "Waiting for you", "wf-waiting"
    return STATUS_LABELS[status.value], f"wf-{status.value}"


def asking(ws: Workspace, workflow: Workflow) -> frozenset[str]:
    """Steps that wait for a person: at their checkpoint, or running with a task that waits (a
    tool approval, a question)."""
    out: set[str] = set()
    for step in workflow.steps:
        if step.status is StepStatus.WAITING:
            out.add(step.key)
        elif step.status is StepStatus.RUNNING and step.task_id:
            try:
                if ws.tasks.get(step.task_id).status is TaskStatus.WAITING:
                    out.add(step.key)
            except NotFoundError:
                continue
    return frozenset(out)
