"""The prompts a workflow's steps receive (the original's headers, kept where sound)."""

from __future__ import annotations

from collections.abc import Sequence

from stagent.domain.workflows import WorkflowStep


def sequence_prompt(step: WorkflowStep, previous: str | None, comment: str | None = None) -> str:
    """A sequence step sees the previous step's output (and a reviewer's comment, if any)."""
    parts: list[str] = []
    if previous:
        parts.append(f"Previous step output:\n{previous}")
    if comment:
        parts.append(f"Reviewer's comment at the checkpoint:\n{comment}")
    parts.append(step.prompt)
    return "\n\n---\n\n".join(parts)


def synthesis_prompt(step: WorkflowStep, branches: Sequence[tuple[WorkflowStep, str]]) -> str:
    """The join step sees every branch that succeeded, numbered, then its own prompt."""
    sections = [
        f"Branch {index} - {branch.name}:\n{output}"
        for index, (branch, output) in enumerate(branches, start=1)
    ]
    header = (
        "You are synthesizing the results of parallel research branches. "
        "Combine them into one answer."
    )
    return "\n\n---\n\n".join([header, *sections, step.prompt])


LOOP_HISTORY_CHARS = 30_000
"""At most this many characters of earlier iterations' outputs go into an iteration's prompt
(the newest output always does); older ones are named, not repeated."""


def loop_prompt(
    step: WorkflowStep, iteration: int, limit: int, previous: Sequence[str], signal: str
) -> str:
    """An iteration sees its number, the earlier iterations' outputs, the template, and how to
    say it is done (the original's shape, with every prior output instead of the last one)."""
    parts = [f"Iteration {iteration} of {limit}."]
    kept: list[str] = []
    room = LOOP_HISTORY_CHARS
    for number in range(len(previous), 0, -1):
        output = previous[number - 1]
        if kept and len(output) > room:
            kept.append(
                f"(the outputs of iterations 1 to {number} are left out; see the workflow's steps)"
            )
            break
        kept.append(f"Output of iteration {number}:\n{output}")
        room -= len(output)
    parts.extend(reversed(kept))
    body = "\n\n".join(parts)
    finish = f'When the work is complete, include "{signal}" in your answer.'
    return f"{body}\n\n---\n\n{step.prompt}\n\n{finish}"


def planner_prompt(step: WorkflowStep, executors: Sequence[WorkflowStep]) -> str:
    """The planner's own prompt, then the plan format the engine reads."""
    example = '[{"name": "Short step name", "prompt": "What to do in this step"'
    if len(executors) > 1:
        example += f', "executor": "{executors[0].id}"'
        who = "; ".join(f'"{e.id}" ({e.name}: {e.prompt.strip()[:120]})' for e in executors)
        choose = f'\nEach step names its "executor", one of: {who}.'
    else:
        choose = f"\nEach step is carried out by: {executors[0].name}."
    return (
        f"{step.prompt}\n\n---\n\n"
        "Answer with your plan as a JSON list of steps, in the order they should run, "
        f"at most 20, for example:\n```json\n{example}}}]\n```{choose}"
    )


def executor_prompt(
    step: WorkflowStep,
    plan: str,
    position: tuple[int, int],
    task: tuple[str, str],
    earlier: Sequence[tuple[str, str]],
) -> str:
    """An executor step sees the whole plan, the results of the plan steps before it, its own
    plan step (``task`` = name, prompt), then its template's prompt."""
    index, total = position
    parts = [f"Plan from planner:\n{plan}"]
    if earlier:
        done = "\n\n".join(f"Step {i} - {name}:\n{out}" for i, (name, out) in enumerate(earlier, 1))
        parts.append(f"Results so far:\n{done}")
    parts.append(f"Your step ({index} of {total}) - {task[0]}:\n{task[1]}")
    parts.append(step.prompt)
    return "\n\n---\n\n".join(parts)


def swarm_worker_prompt(step: WorkflowStep, mayor: WorkflowStep, briefing: str) -> str:
    """A worker sees the mayor's briefing and its own assignment, and is told to keep to it."""
    return "\n\n---\n\n".join(
        [
            "You are one worker in a governed multi-agent swarm.",
            f"Mayor ({mayor.name}) briefing:\n{briefing}",
            f"Your assignment ({step.name}):\n{step.prompt}",
            "Do only your slice of the work and return concrete findings the refinery can merge.",
        ]
    )


def refinery_prompt(
    step: WorkflowStep,
    mayor: WorkflowStep,
    briefing: str,
    workers: Sequence[tuple[WorkflowStep, str]],
) -> str:
    """The refinery sees the mayor's briefing and every worker's result, then its own prompt."""
    sections = [
        f"Worker {index} - {worker.name}:\n{output}"
        for index, (worker, output) in enumerate(workers, start=1)
    ]
    header = (
        "You are the refinery of a governed multi-agent swarm: merge the workers' results "
        "into one answer."
    )
    return "\n\n---\n\n".join(
        [header, f"Mayor ({mayor.name}) briefing:\n{briefing}", *sections, step.prompt]
    )
