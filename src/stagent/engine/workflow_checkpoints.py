"""Workflow checkpoints: a step that ``requires_approval`` waits for a person before it starts.

It works in every pattern because it lives where every step runs: the step's child task run.
Before the runtime starts (`stagent.engine.executor`), `before_start` looks up whether the run's
task is a gated workflow step. If so it opens a ``checkpoint`` card in the approval inbox (the
same cards, commands and page as tool approvals), puts the card's hold on the run
(`stagent.store.lifecycle.suspend`: the run and the task are ``waiting``, the step row too), and
sleeps on `stagent.store.waits.until` -- woken by the commit that decides the card, in any
process, never a sleep loop.

- Approved: the hold is released (by the decision), the reviewer's comment is added to the
  step's prompt (its task's description, once), and the run starts.
- Rejected, timed out (only if the definition sets ``approval_timeout_seconds``) or its task
  cancelled: the run fails with that reason, and so does the step (no retry: a person decided).

The wait is durable because the card is: a run recovered after a crash (attempt + 1) finds its
card by run id and waits on it again, or goes on if it was approved meanwhile. A retried step is
a new run, so it is asked again.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from stagent.domain.approvals import CHECKPOINT_TOOL, TASK_ENDED_BY, TIMED_OUT_BY, Approval
from stagent.domain.errors import ConflictError, NotFoundError, StagentError
from stagent.domain.ids import utcnow
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task
from stagent.domain.workflow_runs import StepStatus
from stagent.domain.workflows import WorkflowStep, definition_of
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import lifecycle, waits
from stagent.store import runs as run_repo
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Session, Store

RECHECK_SECONDS = 30.0
"""A safety net only: the wait wakes on the deciding commit."""
COMMENT_HEADER = "Reviewer's comment at the checkpoint:"
PROMPT_EXCERPT = 2000
"""How much of the step's prompt the card shows."""


class CheckpointRejectedError(StagentError):
    """A person rejected the step at its checkpoint (or nobody approved it in time)."""

    code = "checkpoint_rejected"


def comment_section(comment: str) -> str:
    """What a step's prompt gets from an approval with a comment."""
    return f"\n\n---\n\n{COMMENT_HEADER}\n{comment}"


@dataclass(frozen=True, slots=True)
class Gate:
    """The gated workflow step a task runs as."""

    row_id: str
    workflow_id: str
    workflow_name: str
    run_number: int
    key: str
    step: WorkflowStep


_known_ungated: ContextVar[bool] = ContextVar("stagent_step_known_ungated", default=False)
"""True while the current task run is a workflow step its interpreter said is not gated."""


@contextmanager
def step_known(step: tuple[Any, ...]) -> Generator[None]:
    """While the step's task run runs: if its interpreter said (``step[3]``, see
    `stagent.engine.workflow_steps.StepRef`) that the step does not require approval,
    `before_start` skips reading the workflow's definition. A reference without that flag
    changes nothing (the definition is read, as for a run the task queue started)."""
    known = len(step) > 3 and step[3] is False
    token = _known_ungated.set(known)
    try:
        yield
    finally:
        _known_ungated.reset(token)


@dataclass(frozen=True, slots=True)
class StepRow:
    """The workflow step a task runs as (its row), before its definition is read."""

    row_id: str
    workflow_id: str
    run_number: int
    key: str


def step_of(session: Session, task_id: str) -> StepRow | None:
    """The workflow step ``task_id`` runs as, or None: one indexed read of one column for a task
    that is no workflow step (the executor asks it in the transaction that claims the run)."""
    row = step_repo.step_for_task(session, task_id)
    if row is None:
        return None
    return StepRow(row.id, row.workflow_id, row.run_number, row.step_key)


def gated_step(store: Store, ref: StepRow) -> Gate | None:
    """The gate of the step ``ref``, if that step requires approval; else None."""
    with store.read() as session:
        workflow = workflow_repo.get_row(session, ref.workflow_id)
        data = workflow_repo.run_definition(session, workflow, ref.run_number)
        definition = definition_of(workflow.id, data)
    template = ref.key.split("#", 1)[0]
    step = next((s for s in definition.steps if s.id == template), None)
    if step is None or not step.requires_approval:
        return None
    return Gate(ref.row_id, ref.workflow_id, workflow.name, ref.run_number, ref.key, step)


async def before_start(store: Store, task: Task, run: Run, step: StepRow | None) -> Task:
    """Hold a gated step's run until a person approves it (``step``: the workflow step the
    task runs as, from `step_of`); returns the task to run (its description with the
    reviewer's comment). Raises `CheckpointRejectedError` otherwise."""
    if _known_ungated.get():
        return task
    gate = gated_step(store, step) if step is not None else None
    if gate is None:
        return task
    card = _open(store, task, run, gate)
    closed = await waits.until(store, lambda: _probe(store, card.id, run.id))
    return _after(store, closed, task, gate)


def _open(store: Store, task: Task, run: Run, gate: Gate) -> Approval:
    """The run's checkpoint card: the one it opened before a crash, or a new one (with the
    hold on the run and the step row ``waiting``)."""
    with store.write() as session:
        task_repo.get_row(session, task.id, for_update=True)
        existing = approval_repo.for_run(session, run.id, "checkpoint")
        if existing is not None:
            return existing
        timeout = gate.step.approval_timeout_seconds
        name, key = gate.workflow_name, gate.key
        card_input: dict[str, Any] = {
            "workflow": name,
            "workflow_id": gate.workflow_id,
            "run": gate.run_number,
            "step": key,
            "step_name": gate.step.name,
            "prompt": task.description[:PROMPT_EXCERPT],
        }
        card = approval_repo.create(
            session,
            task_id=task.id,
            run_id=run.id,
            project_id=task.project_id,
            runtime=run.runtime,
            profile=task.profile,
            tool=CHECKPOINT_TOOL,
            tool_input=card_input,
            kind="checkpoint",
            risk="medium",
            suggested_rule=None,
            why_asked=f"step {key} of workflow {name} requires approval before it starts",
            expires_at=utcnow() + timedelta(seconds=timeout) if timeout else None,
        )
        event_repo.append(
            session,
            task.id,
            "approval",
            run_id=run.id,
            payload={
                "message": f"waiting for a person: workflow checkpoint before step "
                f"{key}; approve or reject it in the Inbox",
                "approval_id": card.id,
                "tool": card.tool,
                "kind": card.kind,
                "risk": card.risk,
                "why_asked": card.why_asked,
            },
        )
        lifecycle.suspend(
            session,
            run.id,
            approval_repo.approval_hold(card.id),
            reason=f"checkpoint before step {key} needs a person",
        )
        step_row = step_repo.step_by_id(session, gate.row_id)
        if step_row is not None and step_row.status == StepStatus.RUNNING.value:
            step_row.status = StepStatus.WAITING.value
        return card


def _probe(store: Store, card_id: str, run_id: str) -> waits.Done[Approval] | waits.Pending:
    with store.read() as session:
        card = approval_repo.get(session, card_id)
        status = RunStatus(run_repo.get_row(session, run_id).status)
    if not card.pending:
        return waits.Done(card)
    if status.is_terminal:
        return waits.Done(_close(store, card, "cancelled", "the task ended while it waited"))
    if card.expires_at is None:
        return waits.Pending(RECHECK_SECONDS)
    remaining = (card.expires_at - utcnow()).total_seconds()
    if remaining <= 0:
        return waits.Done(_close(store, card, "timed_out", "no one approved it in time"))
    return waits.Pending(min(remaining, RECHECK_SECONDS))


def _close(store: Store, card: Approval, status: str, why: str) -> Approval:
    """Close a card nobody decided (timed out, or its task ended); a decision that landed
    first stands."""
    by = TIMED_OUT_BY if status == "timed_out" else TASK_ENDED_BY
    message = f"The workflow checkpoint was not approved: {why}."
    try:
        with store.write() as session:
            return approval_repo.close_card(
                session,
                card,
                "timed_out" if status == "timed_out" else "cancelled",
                by,
                {"behavior": "deny", "message": message},
                f"checkpoint {status.replace('_', ' ')}: {why}",
            )
    except ConflictError:
        with store.read() as session:
            return approval_repo.get(session, card.id)


def _after(store: Store, card: Approval, task: Task, gate: Gate) -> Task:
    if card.status != "allowed":
        if card.status == "timed_out":
            raise CheckpointRejectedError(
                f"no one approved the checkpoint within "
                f"{gate.step.approval_timeout_seconds or 0:g} s (approval_timeout_seconds)"
            )
        if card.status == "cancelled":
            raise CheckpointRejectedError("the step's task ended while its checkpoint waited")
        said = card.decision.get("person_message") or ""
        by = card.decided_by or "a person"
        raise CheckpointRejectedError(
            f"rejected at the checkpoint by {by}" + (f": {said}" if said else "")
        )
    with store.write() as session:
        step_row = step_repo.step_by_id(session, gate.row_id)
        if step_row is not None and step_row.status == StepStatus.WAITING.value:
            step_row.status = StepStatus.RUNNING.value
        try:
            current = task_repo.get(session, task.id)
        except NotFoundError:
            return task
        section = comment_section(card.comment) if card.comment else ""
        if section and section not in current.description:
            current = task_repo.update_fields(
                session, task.id, {"description": current.description + section}
            )
        return current
