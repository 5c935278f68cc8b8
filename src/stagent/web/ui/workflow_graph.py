"""The run view's graph: a workflow's steps in layers (what runs before what), each with its
status, time and cost; a loop's iterations as a timeline. Pure functions over domain values.

Layers follow the pattern: a sequence is one step per layer; parallel is the branches, then the
synthesis; a swarm is the mayor, the workers, then the refinery; planner-executor is the planner,
then the plan's steps once it made them (``<executor>#<n>``, before that the executor steps); a
loop is its step, with its iterations (``<step>#<n>``) on a timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from stagent.domain.ids import utcnow
from stagent.domain.workflow_runs import (
    StepCost,
    StepState,
    Workflow,
    WorkflowStatus,
    split_key,
    step_role,
)
from stagent.domain.workflows import WorkflowStep

RETRYABLE = frozenset({"failed", "blocked"})


@dataclass(frozen=True, slots=True)
class Node:
    """One step in the graph."""

    key: str
    name: str
    role: str
    status: str
    """The step row's status, or ``not run`` when this run has no row for it."""
    task_id: str | None = None
    started_at: datetime | None = None
    seconds: float | None = None
    """How long it ran (None until it started; up to now while it runs)."""
    cost_micros: int | None = None
    """What its task's runs really cost (None with no task yet)."""
    simulated: bool = False
    """Its task ran on a runtime that calls no model: shown as "simulated", not a cost."""
    error: str | None = None
    output: str | None = None
    gate: bool = False
    """The step waits for a person's approval before it runs."""
    instance: bool = False
    """A step the run made from a template (a loop iteration, a plan step)."""
    retryable: bool = False


@dataclass(frozen=True, slots=True)
class Layer:
    """Steps that run at the same stage (side by side), with a label."""

    label: str
    nodes: tuple[Node, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Segment:
    """One loop iteration on the timeline: where it starts and how wide it is (percent)."""

    node: Node
    left: float
    width: float


def duration(step: StepState, now: datetime) -> float | None:
    """Seconds a step ran (to now while it runs)."""
    if step.started_at is None:
        return None
    end = step.ended_at or now
    return max((end - step.started_at).total_seconds(), 0.0)


ROLE_LABELS = {
    "step": "Step",
    "branch": "Branch",
    "join": "Synthesis",
    "planner": "Planner",
    "executor": "Executor",
    "iteration": "Iteration",
    "mayor": "Mayor",
    "worker": "Worker",
    "refinery": "Refinery",
}
TEMPLATE = "template"
"""The status shown for a definition step that never runs itself: a loop's step, or a planner's
executor step, whose instances (``<id>#<n>``) are what runs."""


def nodes(
    workflow: Workflow, costs: Mapping[str, StepCost], now: datetime | None = None
) -> list[Node]:
    """Every step of the latest run: the definition's steps in order (a template that only runs
    through its instances shows as ``template``), then the steps the run added, in order."""
    now = now or utcnow()
    rows = {s.key: s for s in workflow.steps}
    ended = workflow.status in (WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)
    templates = _templates(workflow)
    out: list[Node] = []
    for step in workflow.definition.steps:
        row = rows.get(step.id)
        status = TEMPLATE if row is None and step.id in templates else None
        out.append(_node(workflow, step.id, step, row, costs, now, ended, status))
    known = {s.id for s in workflow.definition.steps}
    for row in sorted(workflow.steps, key=lambda r: r.position):
        if row.key not in known:
            template = next((s for s in workflow.definition.steps if s.id == row.template), None)
            out.append(_node(workflow, row.key, template, row, costs, now, ended, None))
    return out


def _templates(workflow: Workflow) -> set[str]:
    steps = workflow.definition.steps
    if workflow.pattern == "loop":
        return {s.id for s in steps}
    if workflow.pattern == "planner-executor":
        return {s.id for s in steps[1:]}
    return set()


def _node(
    workflow: Workflow,
    key: str,
    step: WorkflowStep | None,
    row: StepState | None,
    costs: Mapping[str, StepCost],
    now: datetime,
    ended: bool,
    status: str | None,
) -> Node:
    status = status or (row.status.value if row is not None else "not run")
    cost = costs.get(key, StepCost()) if row is not None and row.task_id else None
    return Node(
        key=key,
        name=workflow.step_name(row) if row is not None else (step.name if step else key),
        role=role_of(workflow, key),
        status=status,
        task_id=row.task_id if row is not None else None,
        started_at=row.started_at if row is not None else None,
        seconds=duration(row, now) if row is not None else None,
        cost_micros=cost.micros if cost is not None else None,
        simulated=cost is not None and cost.simulated,
        error=row.error if row is not None else None,
        output=row.output if row is not None else None,
        gate=step.requires_approval if step is not None else False,
        instance=split_key(key)[1] is not None,
        retryable=ended and status in RETRYABLE,
    )


def role_of(workflow: Workflow, key: str) -> str:
    """The step's part in its pattern (Mayor, Worker, Branch ...), as a label."""
    role = ROLE_LABELS.get(step_role(workflow.definition, key), "Step")
    step = next((s for s in workflow.definition.steps if s.id == key), None)
    if role == "Step" and step is not None and step.requires_approval:
        return "Checkpoint"
    return role


def layers(workflow: Workflow, all_nodes: list[Node]) -> list[Layer]:
    """The graph's layers, left to right (top to bottom on a phone)."""
    definition = workflow.definition
    defined = [n for n in all_nodes if not n.instance]
    instances = tuple(n for n in all_nodes if n.instance)
    pattern = workflow.pattern
    if pattern == "parallel":
        limit = definition.parallel.max_concurrency if definition.parallel else 3
        policy = definition.parallel.on_branch_failure if definition.parallel else "fail"
        when_failed = (
            "a failed branch fails the join"
            if policy == "fail"
            else "a failed branch is left out of the synthesis"
        )
        return [
            Layer(
                "Branches",
                tuple(n for n in defined if n.role == "Branch"),
                f"{limit} at a time; {when_failed}",
            ),
            Layer("Synthesis", tuple(n for n in defined if n.role == "Synthesis")),
        ]
    if pattern == "swarm":
        limit = definition.swarm.worker_concurrency if definition.swarm else 2
        return [
            Layer("Mayor", tuple(n for n in defined if n.role == "Mayor")),
            Layer("Workers", tuple(n for n in defined if n.role == "Worker"), f"{limit} at a time"),
            Layer("Refinery", tuple(n for n in defined if n.role == "Refinery")),
        ]
    if pattern == "loop":
        loop = definition.loop
        note = f"up to {loop.max_iterations} iterations" if loop else ""
        return [Layer("Each iteration runs", tuple(defined), note)]
    if pattern == "planner-executor":
        planner = tuple(n for n in defined if n.role == "Planner")
        if instances:
            return [Layer("Planner", planner)] + [
                Layer(f"Plan step {i}", (n,)) for i, n in enumerate(instances, start=1)
            ]
        executors = tuple(n for n in defined if n.role == "Executor")
        return [
            Layer("Planner", planner),
            Layer("Executors", executors, "the plan's steps run as these, one after another"),
        ]
    out = [Layer(f"{n.role} {i}", (n,)) for i, n in enumerate(defined, start=1)]
    if instances:
        out.append(Layer("Added at run time", instances))
    return out


def timeline(all_nodes: list[Node]) -> list[Segment]:
    """A loop's iterations side by side, each as wide as the share of time it took."""
    iterations = [n for n in all_nodes if n.instance and n.role == "Iteration"]
    if not iterations:
        return []
    total = sum(max(n.seconds or 0.0, 0.0) for n in iterations)
    share = 100.0 / len(iterations)
    segments: list[Segment] = []
    left = 0.0
    for node in iterations:
        width = (node.seconds or 0.0) / total * 100.0 if total > 0 else share
        segments.append(Segment(node, round(left, 2), round(max(width, 0.5), 2)))
        left += width
    return segments


def clock(seconds: float | None) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
