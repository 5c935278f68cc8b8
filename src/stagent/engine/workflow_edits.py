"""What an edit of a workflow's definition allows: editing while a run is in flight
(`check_editable`), retrying a step of a run the edit changed (`check_retry`,
`check_tasks_unedited`), re-running from a step when the edit changed a step whose output the
re-run would reuse (`check_rerun`).

A run keeps a copy of the definition it started from (`stagent.store.workflows.run_copy`):
every round of it (resume, retry) runs that copy, and its view draws it. So an edit never
changes a run silently; these checks refuse, with what to do instead, where a person would
expect their edit to run and it would not.
"""

from __future__ import annotations

from collections.abc import Iterable

from stagent.domain.errors import ConflictError
from stagent.domain.workflow_changes import DefinitionChanges, changes
from stagent.domain.workflow_runs import WorkflowStatus, split_key
from stagent.domain.workflows import WorkflowDefinition
from stagent.engine.workflow_steps import made_from
from stagent.store import events as event_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Session
from stagent.store.tables import WorkflowStepRow

HARMLESS = frozenset({"name", "blueprint"})
"""Fields an edit may change without changing what a step or the run does (a retry still runs
the run as it was; a re-run still reuses the step's output)."""


def check_editable(workflow_id: str, status: WorkflowStatus, run: int) -> None:
    """Raise a `ConflictError` (with what to do) if the definition may not change now.

    Why running and paused: a round of a run reads the definition once (its first DBOS step,
    `workflow_steps.begin`, whose recorded output a replay reuses), but the executor's checkpoint
    check reads the stored one when a step's run starts (`workflow_checkpoints.gated_step`),
    and a resume starts a new round of the same run, which would read the edit and run it over
    step rows made from the old definition. An ended run (completed, failed, cancelled) has no
    round left to see the change: a `retry` of its failed step is a new round that runs the
    run's own definition (refused when an edit changed what it would run: `check_retry`), a
    `run` or a `rerun` starts a new run of the edit."""
    if status is WorkflowStatus.RUNNING:
        raise ConflictError(
            f"workflow {workflow_id} is running (run {run}); its definition cannot change "
            "while a run reads it",
            hint=f"wait for the run to end, or cancel it (stagent workflow cancel {workflow_id}; "
            f"API: POST /api/v1/workflows/{workflow_id}/cancel), then save the edit again",
        )
    if status is WorkflowStatus.PAUSED:
        raise ConflictError(
            f"workflow {workflow_id} is paused in the middle of run {run}; resuming it would "
            "run the rest of that run on the edited definition",
            hint=f"resume it and let it end (stagent workflow resume {workflow_id}), or cancel "
            f"it (stagent workflow cancel {workflow_id}), then save the edit again",
        )


def check_tasks_unedited(
    session: Session,
    workflow_id: str,
    run: int,
    definition: WorkflowDefinition,
    rows: list[WorkflowStepRow],
) -> None:
    """Raise a `ConflictError` if a step a retry would run again has a task made from a step
    an edit changed since (a retry runs a step's task as it was made; `workflow_steps.made_from`):
    re-running from it makes its task from the edited definition. A task the person edited
    (its log has an ``updated`` event: a fixed scenario, prompt or options) is run as they
    left it: that edit is the fix the retry is for, whatever the definition says now."""
    steps = {s.id: s for s in definition.steps}
    for row in rows:
        template = steps.get(split_key(row.step_key)[0])
        if row.task_id is None or template is None:
            continue
        if event_repo.count(session, row.task_id, "updated"):
            continue  # the person edited the task itself: their fix is what a retry runs
        if not made_from(task_repo.get(session, row.task_id), template):
            key = row.step_key
            raise ConflictError(
                f"step {key} was edited since run {run} made its task; a retry would run the "
                "step as it was before the edit",
                hint=f"re-run from it to run the edited step and what follows it, reusing the "
                f"steps before it (stagent workflow rerun {workflow_id} {key}; API: POST "
                f".../steps/{key}/rerun)",
            )


def _touched(found: DefinitionChanges) -> set[str]:
    """Steps an edit removed or changed in what they do (a new name alone changes nothing)."""
    return set(found.removed) | {c.id for c in found.changed if set(c.fields) - HARMLESS}


def check_retry(
    workflow_id: str,
    run: int,
    ran: WorkflowDefinition,
    stored: WorkflowDefinition,
    to_run: Iterable[str],
    keys: Iterable[str],
) -> None:
    """Raise a `ConflictError` if an edit since run ``run`` (``ran``: its copy, ``stored``: the
    edit) changed what a retry would run: ``to_run``, the step templates the retry's round runs
    (the reset steps, the run's steps not run yet, a loop's or a plan's templates), or the
    pattern's settings. A retry is a round of the run and runs the run's copy, so it would
    silently leave the edit out; the hint says to re-run from the step (a new run of the edit
    that reuses the steps before it) or start a new run."""
    found = changes(ran, stored)
    if found.empty:
        return
    settings = [name for name in found.settings if name not in HARMLESS]
    if settings:
        raise ConflictError(
            f"workflow {workflow_id}'s {', '.join(settings)} changed since run {run}; a retry "
            "runs that run as it was defined",
            hint=f"start a new run to run the edit (stagent workflow run {workflow_id}; API: "
            f"POST /api/v1/workflows/{workflow_id}/run)",
        )
    touched = _touched(found)
    key = next((k for k in to_run if split_key(k)[0] in touched), None)
    if key is None:
        return
    template = split_key(key)[0]
    again = (
        f"re-run from it to run the edited step and what follows it, reusing the steps before "
        f"it (stagent workflow rerun {workflow_id} {key}; API: POST .../steps/{key}/rerun)"
        if key in set(keys)
        else f"start a new run to run the edit (stagent workflow run {workflow_id})"
    )
    raise ConflictError(
        f"step {template} was edited since run {run}; a retry would run it as it was before "
        "the edit",
        hint=again,
    )


def check_rerun(
    workflow_id: str,
    run: int,
    ran: WorkflowDefinition,
    stored: WorkflowDefinition,
    reused: Iterable[str],
) -> None:
    """Raise a `ConflictError` if a re-run from a step would reuse the output of a step
    (``reused``: step keys of run ``run``) that an edit since changed or removed, or if the
    edit changed the pattern or the steps' order (outputs made under another shape): the
    output was made by the step as it was, not as it is now. The hint names the step to
    re-run from instead (the first such), or a new run."""
    found = changes(ran, stored)
    if found.empty:
        return
    if "pattern" in found.settings or found.reordered:
        what = "pattern" if "pattern" in found.settings else "steps' order"
        raise ConflictError(
            f"workflow {workflow_id}'s {what} changed since run {run}; its steps' outputs "
            "cannot be reused",
            hint=f"start a new run of the edit (stagent workflow run {workflow_id})",
        )
    touched = _touched(found)
    stale = next((k for k in reused if split_key(k)[0] in touched), None)
    if stale is None:
        return
    template = split_key(stale)[0]
    if template in found.removed:
        hint = f"start a new run of the edit (stagent workflow run {workflow_id})"
    else:
        hint = f"re-run from {stale} instead (stagent workflow rerun {workflow_id} {stale})"
    raise ConflictError(
        f"step {template} was edited since run {run}, so its output there cannot be reused",
        hint=hint,
    )
