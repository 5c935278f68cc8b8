"""A workflow run is refused up front, as ``task run`` is, when a step's runtime cannot run here.

Without this a run of a definition whose step needs, say, a Claude Code that is not logged in
was stored, queued and started, and failed only at that step with the runtime's own message.
`refuse_unready` checks every step's runtime first (each runtime once: a check may run a binary)
and names every step that cannot run, with the runtime's reason and fix.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from stagent.domain.errors import Problem, RuntimeUnavailableError
from stagent.domain.workflow_runs import StepStatus, downstream, split_key
from stagent.domain.workflows import DEFAULT_STEP_RUNTIME, WorkflowDefinition

SETTLED = frozenset({StepStatus.COMPLETED.value, StepStatus.FAILED.value, StepStatus.SKIPPED.value})
"""Step rows a resume does not run again (a round skips them)."""


def unready_steps(
    definition: WorkflowDefinition,
    require_ready: Callable[[str], None],
    only: Collection[str] | None = None,
) -> list[Problem]:
    """One problem per step whose runtime ``require_ready`` refuses (it raises
    `RuntimeUnavailableError` with the reason, and the fix as its hint), in step order;
    ``only``: the ids of the steps that will run (a retry, a re-run or a resume runs some)."""
    refusals: dict[str, RuntimeUnavailableError | None] = {}
    problems: list[Problem] = []
    for index, step in enumerate(definition.steps):
        if only is not None and step.id not in only:
            continue
        runtime = step.runtime or DEFAULT_STEP_RUNTIME
        if runtime not in refusals:
            try:
                require_ready(runtime)
                refusals[runtime] = None
            except RuntimeUnavailableError as exc:
                refusals[runtime] = exc
        refused = refusals[runtime]
        if refused is not None:
            field = f"steps[{index}].runtime"
            problems.append(Problem(field, refused.message, hint=refused.hint, step=step.id))
    return problems


def refuse_unready(
    definition: WorkflowDefinition,
    require_ready: Callable[[str], None],
    only: Collection[str] | None = None,
) -> None:
    """Raise `RuntimeUnavailableError` naming every step (of ``only``, if given) whose runtime
    is not ready (step id, runtime, reason; each fix as that problem's hint); nothing if every
    such step can run."""
    problems = unready_steps(definition, require_ready, only)
    if not problems:
        return
    if len(problems) == 1:
        error = RuntimeUnavailableError(problems[0].text(), hint=problems[0].hint)
    else:
        listed = "; ".join(problem.text() for problem in problems)
        error = RuntimeUnavailableError(
            f"{len(problems)} steps cannot run here: {listed}",
            hint="nothing was started; fix each step's runtime, then try again",
        )
    error.problems = tuple(problems)
    raise error


def steps_to_run(
    definition: WorkflowDefinition,
    rows: Sequence[tuple[str, str]],
    step: str | None = None,
    *,
    rerun: bool = False,
) -> set[str]:
    """The ids of the definition steps a resume (``step`` None), a retry of ``step`` or a
    re-run from it (``rerun``) will run, given the run's step rows as (key, status): the
    steps not settled (a re-run: ``step`` and what depends on it), the ones ``step`` leads to,
    and every step with no row yet (a loop's or a plan's templates, a step an edit added)."""
    keys = [key for key, _ in rows]
    have = {split_key(key)[0] for key in keys}
    out = {s.id for s in definition.steps if s.id not in have}
    if step is not None:
        out |= {split_key(key)[0] for key in (step, *downstream(definition, keys, step))}
    if not rerun:
        out |= {split_key(key)[0] for key, status in rows if status not in SETTLED}
    return out
