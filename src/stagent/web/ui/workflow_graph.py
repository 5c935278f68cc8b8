"""The run view's graph: a workflow's steps in layers (what runs before what), each with its
status, time and cost; a loop's iterations as a timeline. Pure functions over domain values.

Layers follow the pattern: a sequence is one step per layer; parallel is the branches, then the
synthesis; a swarm is the mayor, the workers, then the refinery; planner-executor is the planner,
then its executors. Step rows the definition does not name (steps a run adds while it runs, such
as a plan's steps or a loop's iterations) are shown after them, or as the loop's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stagent.domain.ids import utcnow
from stagent.domain.workflow_runs import StepState, Workflow, WorkflowStatus
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
    error: str | None = None
    output: str | None = None
    gate: bool = False
    """The step waits for a person's approval before it runs."""
    runtime: str = "scripted"
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


def nodes(workflow: Workflow, costs: dict[str, int], now: datetime | None = None) -> list[Node]:
    """Every step of the latest run: the definition's steps in order, then rows it adds."""
    now = now or utcnow()
    rows = {s.key: s for s in workflow.steps}
    ended = workflow.status in (WorkflowStatus.FAILED, WorkflowStatus.CANCELLED)
    steps = list(workflow.definition.steps)
    out = [_node(workflow, s.id, s, rows.get(s.id), costs, now, ended) for s in steps]
    known = {s.id for s in steps}
    for row in sorted(workflow.steps, key=lambda r: r.position):
        if row.key not in known:
            out.append(_node(workflow, row.key, None, row, costs, now, ended))
    return out


def _node(
    workflow: Workflow,
    key: str,
    step: WorkflowStep | None,
    row: StepState | None,
    costs: dict[str, int],
    now: datetime,
    ended: bool,
) -> Node:
    status = row.status.value if row is not None else "not run"
    return Node(
        key=key,
        name=step.name if step is not None else key,
        role=role_of(workflow, key),
        status=status,
        task_id=row.task_id if row is not None else None,
        started_at=row.started_at if row is not None else None,
        seconds=duration(row, now) if row is not None else None,
        cost_micros=costs.get(key) if row is not None and row.task_id else None,
        error=row.error if row is not None else None,
        output=row.output if row is not None else None,
        gate=step.requires_approval if step is not None else False,
        runtime=(step.runtime if step is not None else None) or "scripted",
        retryable=ended and status in RETRYABLE and step is not None,
    )


def role_of(workflow: Workflow, key: str) -> str:
    """The step's part in its pattern (Mayor, Worker, Branch ...)."""
    steps = workflow.definition.steps
    ids = [s.id for s in steps]
    pattern = workflow.pattern
    if key not in ids:
        return "Iteration" if pattern == "loop" else "Added at run time"
    index = ids.index(key)
    if pattern == "parallel":
        return "Synthesis" if steps[index].depends_on else "Branch"
    if pattern == "planner-executor":
        return "Planner" if index == 0 else "Executor"
    if pattern == "loop":
        return "Iteration template"
    if pattern == "swarm":
        if index == 0:
            return "Mayor"
        return "Refinery" if index == len(steps) - 1 else "Worker"
    return "Checkpoint" if steps[index].requires_approval else "Step"


def layers(workflow: Workflow, all_nodes: list[Node]) -> list[Layer]:
    """The graph's layers, left to right (top to bottom on a phone)."""
    definition = workflow.definition
    defined = [n for n in all_nodes if n.role != "Added at run time" and n.role != "Iteration"]
    added = tuple(n for n in all_nodes if n.role == "Added at run time")
    pattern = workflow.pattern
    out: list[Layer]
    if pattern == "parallel":
        limit = definition.parallel.max_concurrency if definition.parallel else 3
        policy = definition.parallel.on_branch_failure if definition.parallel else "fail"
        branches = tuple(n for n in defined if n.role == "Branch")
        joins = tuple(n for n in defined if n.role == "Synthesis")
        when_failed = (
            "a failed branch fails the join"
            if policy == "fail"
            else ("a failed branch is left out of the synthesis")
        )
        out = [
            Layer("Branches", branches, f"{limit} at a time; {when_failed}"),
            Layer("Synthesis", joins),
        ]
    elif pattern == "swarm":
        limit = definition.swarm.worker_concurrency if definition.swarm else 2
        out = [
            Layer("Mayor", tuple(n for n in defined if n.role == "Mayor")),
            Layer("Workers", tuple(n for n in defined if n.role == "Worker"), f"{limit} at a time"),
            Layer("Refinery", tuple(n for n in defined if n.role == "Refinery")),
        ]
    elif pattern == "loop":
        loop = definition.loop
        note = f"up to {loop.max_iterations} iterations" if loop else ""
        out = [Layer("Each iteration", tuple(defined), note)]
    else:
        out = [Layer(f"{n.role} {i}", (n,)) for i, n in enumerate(defined, start=1)]
    if added:
        out.append(Layer("Added at run time", added))
    return out


def timeline(all_nodes: list[Node]) -> list[Segment]:
    """A loop's iterations side by side, each as wide as the share of time it took."""
    iterations = [n for n in all_nodes if n.role == "Iteration"]
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
