"""The checks across a workflow's steps (ids, ``depends_on``, conditions, each pattern's shape),
each finding a `ShapeIssue`: where it is, what is wrong and how to fix it.

`stagent.domain.workflows.WorkflowDefinition` runs them when it validates: a definition read
from a person's input (`stagent.domain.workflow_files.parse_definition`) collects every issue,
with checks for new input only (a ``depends_on`` cycle); one read back from the database raises
the first issue of the checks it was stored under. They read an `Outline`, so input whose fields
do not all validate is checked too (`stagent.domain.workflow_outline.outline_from_data`): a check
that needs a part that is unknown there is skipped.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter

from stagent.domain.conditions import parse_condition
from stagent.domain.workflow_outline import SETTINGS, Outline, StepOutline

Path = tuple[str | int, ...]
BRANCHES = (2, 5)
"""A parallel workflow's branches, and a swarm's workers: at least, at most."""


@dataclass(frozen=True)
class ShapeIssue:
    """A problem across steps: ``path`` (``("steps", 2, "id")``), the problem and its fix;
    ``other`` is a second place the problem is about (the first step with a duplicated id)."""

    path: Path
    message: str
    hint: str
    other: Path | None = None


def shape_issues(wf: Outline, *, fresh: bool) -> list[ShapeIssue]:
    """Every issue of ``wf``; ``fresh`` adds the checks stored definitions never had."""
    steps = wf.steps or ()
    issues = [*_duplicates(steps), *_references(wf), *_gates(steps)]
    known = all(s.id is not None and s.depends_on is not None for s in steps)
    if fresh and not issues and known:
        issues += _cycle(steps)
    if wf.pattern is None:
        return issues
    for key in SETTINGS:
        if key in wf.settings and wf.pattern != key:
            issues.append(
                ShapeIssue(
                    (key,),
                    f"settings for the {key} pattern in a {wf.pattern} workflow",
                    f"remove the {key}: block, or set pattern: {key}",
                )
            )
    if wf.steps is not None:
        issues += _PATTERN_CHECKS.get(wf.pattern, _nothing)(wf, wf.steps)
    return issues


def closest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean X?)`` for the choice nearest ``word``, or ''."""
    near = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]}?)" if near else ""


def _duplicates(steps: Sequence[StepOutline]) -> Iterator[ShapeIssue]:
    first: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.id is None:
            continue
        if step.id not in first:
            first[step.id] = index
            continue
        yield ShapeIssue(
            ("steps", index, "id"),
            f"another step already has the id {step.id!r}",
            f"give every step its own id, e.g. id: {step.id}-{index + 1}",
            other=("steps", first[step.id], "id"),
        )


def _references(wf: Outline) -> Iterator[ShapeIssue]:
    ids = dict.fromkeys(wf.ids())  # in order: a problem lists the others
    for index, step in enumerate(wf.steps or ()):
        wrong = [name for name in step.depends_on or () if name == step.id or name not in ids]
        named = parse_condition(step.condition).steps() if step.condition is not None else ()
        unknown = sorted(name for name in named if name not in ids or name == step.id)
        if not wrong and not unknown:
            continue  # (listing the other steps for every step cost O(steps^2))
        others = [i for i in ids if i != step.id]
        listed = ", ".join(others) or "none"
        for name in wrong:
            if name == step.id:
                yield ShapeIssue(
                    ("steps", index, "depends_on"),
                    "a step cannot depend on itself",
                    f"remove {name} from depends_on; the other steps are: {listed}",
                )
            else:
                yield ShapeIssue(
                    ("steps", index, "depends_on"),
                    f"names {name!r}, which is no step's id{closest(name, others)}",
                    f"depends_on lists ids of other steps: {listed}",
                )
        for name in unknown:
            yield ShapeIssue(
                ("steps", index, "condition"),
                f"names step {name!r}, not another step{closest(name, others)}",
                f"a condition reads other steps by id: {listed}",
            )


def _gates(steps: Sequence[StepOutline]) -> Iterator[ShapeIssue]:
    for index, step in enumerate(steps):
        if step.gate_timeout and step.gated is False:
            yield ShapeIssue(
                ("steps", index, "approval_timeout_seconds"),
                "approval_timeout_seconds is set but requires_approval is not",
                "add requires_approval: true (a person approves the step before it starts), or "
                "remove approval_timeout_seconds",
            )


def _cycle(steps: Sequence[StepOutline]) -> list[ShapeIssue]:
    graph = {str(step.id): step.depends_on or () for step in steps}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle: list[str] = list(reversed(exc.args[1]))
        start = min(range(len(cycle) - 1), key=lambda i: [s.id for s in steps].index(cycle[i]))
        ordered = [*cycle[start:-1], *cycle[:start], cycle[start]]
        index = [s.id for s in steps].index(ordered[0])
        chain = " -> ".join(ordered)
        return [
            ShapeIssue(
                ("steps", index, "depends_on"),
                f"depends_on makes a cycle: {chain} (each depends on the next)",
                "a step may depend only on steps that do not depend on it; "
                "remove one depends_on entry of that cycle",
            )
        ]
    return []


def _parallel(wf: Outline, steps: Sequence[StepOutline]) -> list[ShapeIssue]:
    del wf
    if any(s.id is None or s.depends_on is None for s in steps):
        return []  # which steps are branches is not known yet
    low, high = BRANCHES
    branches = [s for s in steps if not s.depends_on]
    joins = [(i, s) for i, s in enumerate(steps) if s.depends_on]
    shape = (
        "a parallel workflow is 2 to 5 branches (steps without depends_on) and one synthesis "
        "step whose depends_on lists every branch"
    )
    issues: list[ShapeIssue] = []
    if not low <= len(branches) <= high:
        issues.append(
            ShapeIssue(
                ("steps",),
                f"a parallel workflow needs {low} to {high} branches (steps without "
                f"depends_on); this one has {len(branches)}",
                shape,
            )
        )
    if len(joins) != 1:
        issues.append(
            ShapeIssue(
                ("steps",),
                f"a parallel workflow needs exactly one synthesis step (the one with "
                f"depends_on); this one has {len(joins)}",
                shape,
            )
        )
    elif sorted(joins[0][1].depends_on or ()) != sorted(str(b.id) for b in branches):
        every = ", ".join(str(b.id) for b in branches)
        issues.append(
            ShapeIssue(
                ("steps", joins[0][0], "depends_on"),
                "the synthesis step must depend on every branch once",
                f"set depends_on: [{every}]",
            )
        )
    return issues


def _planner(wf: Outline, steps: Sequence[StepOutline]) -> list[ShapeIssue]:
    del wf
    if len(steps) >= 2:
        return []
    return [
        ShapeIssue(
            ("steps",),
            "a planner-executor workflow needs a planner step and at least one executor step",
            "add a step after the planner, e.g. - {id: execute, name: Execute, "
            "prompt: Carry out the next step of the plan}",
        )
    ]


def _loop(wf: Outline, steps: Sequence[StepOutline]) -> list[ShapeIssue]:
    issues: list[ShapeIssue] = []
    if len(steps) != 1:
        issues.append(
            ShapeIssue(
                ("steps",),
                f"a loop has exactly one step, the one each iteration runs; this one has "
                f"{len(steps)}",
                "keep one step and say in its prompt when it is done (the completion signal)",
            )
        )
    if "loop" not in wf.settings:
        issues.append(
            ShapeIssue(
                ("loop",),
                "a loop workflow needs loop settings with max_iterations",
                "add loop: {max_iterations: 5} (1 to 100 iterations)",
            )
        )
    return issues


def _swarm(wf: Outline, steps: Sequence[StepOutline]) -> list[ShapeIssue]:
    low, high = BRANCHES
    workers = len(steps) - 2
    issues: list[ShapeIssue] = []
    if not low <= workers <= high:
        issues.append(
            ShapeIssue(
                ("steps",),
                f"a swarm needs a mayor, {low} to {high} workers and a refinery; this one has "
                f"{max(workers, 0)} workers",
                "list the mayor first, then 2 to 5 workers, then the refinery last",
            )
        )
    depending = next((i for i, s in enumerate(steps) if s.depends_on), None)
    if depending is not None:
        issues.append(
            ShapeIssue(
                ("steps", depending, "depends_on"),
                "a swarm's steps have no depends_on (mayor -> workers -> refinery is fixed)",
                "remove depends_on from the swarm's steps",
            )
        )
    limit = wf.worker_concurrency
    if limit is not None and low <= workers and limit > workers:
        issues.append(
            ShapeIssue(
                ("swarm", "worker_concurrency"),
                f"{limit} is more than the {workers} workers",
                f"allowed: 1 to {workers} (the number of workers), e.g. worker_concurrency: "
                f"{min(2, workers)}",
            )
        )
    return issues


def _nothing(wf: Outline, steps: Sequence[StepOutline]) -> list[ShapeIssue]:
    del wf, steps
    return []


_PATTERN_CHECKS = {
    "parallel": _parallel,
    "planner-executor": _planner,
    "loop": _loop,
    "swarm": _swarm,
}
