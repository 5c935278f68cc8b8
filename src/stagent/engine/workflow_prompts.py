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
