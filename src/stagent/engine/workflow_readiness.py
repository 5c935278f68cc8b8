"""A workflow run is refused up front, as ``task run`` is, when a step's runtime cannot run here.

Without this a run of a definition whose step needs, say, a Claude Code that is not logged in
was stored, queued and started, and failed only at that step with the runtime's own message.
`refuse_unready` checks every step's runtime first (each runtime once: a check may run a binary)
and names every step that cannot run, with the runtime's reason and fix.
"""

from __future__ import annotations

from collections.abc import Callable

from stagent.domain.errors import Problem, RuntimeUnavailableError
from stagent.domain.workflows import DEFAULT_STEP_RUNTIME, WorkflowDefinition


def unready_steps(
    definition: WorkflowDefinition, require_ready: Callable[[str], None]
) -> list[Problem]:
    """One problem per step whose runtime ``require_ready`` refuses (it raises
    `RuntimeUnavailableError` with the reason, and the fix as its hint), in step order."""
    refusals: dict[str, RuntimeUnavailableError | None] = {}
    problems: list[Problem] = []
    for index, step in enumerate(definition.steps):
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


def refuse_unready(definition: WorkflowDefinition, require_ready: Callable[[str], None]) -> None:
    """Raise `RuntimeUnavailableError` naming every step whose runtime is not ready (step id,
    runtime, reason; each fix as that problem's hint); nothing if every step can run."""
    problems = unready_steps(definition, require_ready)
    if not problems:
        return
    if len(problems) == 1:
        error = RuntimeUnavailableError(problems[0].text(), hint=problems[0].hint)
    else:
        listed = "; ".join(problem.text() for problem in problems)
        error = RuntimeUnavailableError(
            f"{len(problems)} steps cannot run here: {listed}",
            hint="nothing was started; fix each step's runtime, then run the workflow again",
        )
    error.problems = tuple(problems)
    raise error
