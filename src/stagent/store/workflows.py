"""Repository functions for workflows: the stored definition and the state of its latest run
(runs and their rounds begun and ended here).

The steps of a run are rows of their own (`stagent.store.step_rows`); what the engine reads
and writes for every step is `stagent.store.step_state`. The engine's steps
(`stagent.engine.workflow_steps`) and the service are the only writers; each write is one short
transaction, so a crash between two writes leaves a state the next engine round can continue
from.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, insert, select
from sqlalchemy.orm import Session

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import ensure_aware, new_id, utcnow
from stagent.domain.workflow_runs import (
    StepState,
    StepStatus,
    Workflow,
    WorkflowStatus,
    engine_id_for,
    initial_step_keys,
)
from stagent.domain.workflows import WorkflowDefinition, definition_of
from stagent.store import step_rows as step_repo
from stagent.store.tables import WorkflowRow, WorkflowRunDefinitionRow, WorkflowStepRow

_COPIES = WorkflowRunDefinitionRow


def to_workflow(
    row: WorkflowRow,
    steps: list[WorkflowStepRow] | None = None,
    *,
    states: list[StepState] | None = None,
    copy: dict[str, Any] | None = None,
) -> Workflow:
    """Map a workflow row (and its latest run's step rows, or their ``states`` read already)
    to the domain value. ``copy``: the definition the latest run started from (`run_copy`);
    None before the first run, or for a run from before runs kept one (the stored definition
    stands for it)."""
    stored = definition_of(row.id, row.definition)
    unedited = copy is None or copy == row.definition
    return Workflow(
        id=row.id,
        definition=stored if unedited else WorkflowDefinition.model_validate(copy),
        status=WorkflowStatus(row.status),
        run_count=row.run_count,
        stop_reason=row.stop_reason,
        project_id=row.project_id,
        created_at=ensure_aware(row.created_at),
        updated_at=ensure_aware(row.updated_at),
        started_at=ensure_aware(row.started_at) if row.started_at else None,
        finished_at=ensure_aware(row.finished_at) if row.finished_at else None,
        steps=tuple(states if states is not None else map(step_repo.to_step, steps or [])),
        stop_code=row.stop_code,
        edited=None if unedited else stored,
    )


def create(
    session: Session, definition: WorkflowDefinition, *, project_id: str | None = None
) -> Workflow:
    """Store a validated definition as a draft workflow."""
    row = WorkflowRow(
        id=new_id("wf"),
        name=definition.name,
        pattern=definition.pattern,
        definition=definition.model_dump(mode="json", exclude_none=True),
        project_id=project_id,
        status=WorkflowStatus.DRAFT.value,
        run_count=0,
        round=0,
    )
    session.add(row)
    session.flush()
    return to_workflow(row)


def get_row(session: Session, workflow_id: str, *, for_update: bool = False) -> WorkflowRow:
    """Load a workflow row (by id, or by name when unique) or raise `NotFoundError`."""
    query = select(WorkflowRow).where(WorkflowRow.id == workflow_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        named = list(session.scalars(select(WorkflowRow).where(WorkflowRow.name == workflow_id)))
        if len(named) == 1:
            return get_row(session, named[0].id, for_update=for_update)
        raise NotFoundError(
            f"no workflow with id {workflow_id!r}",
            hint="list workflows with `stagent workflow list`",
        )
    return row


def definition_data(session: Session, workflow_id: str) -> dict[str, Any] | None:
    """The stored definition of a workflow (as data), or None if there is no such workflow."""
    query = select(WorkflowRow.definition).where(WorkflowRow.id == workflow_id)
    return session.execute(query).scalar_one_or_none()


_RUN_COPY = select(_COPIES.definition).where(
    _COPIES.workflow_id == bindparam("workflow_id"), _COPIES.run_number == bindparam("run_number")
)
"""Built once: the definition one run started from."""


def run_copy(session: Session, workflow_id: str, run_number: int) -> dict[str, Any] | None:
    """The definition run ``run_number`` of a workflow started from (as data); None if that
    run kept none (it started before runs kept their definition)."""
    params = {"workflow_id": workflow_id, "run_number": run_number}
    return session.execute(_RUN_COPY, params).scalar_one_or_none()


def run_definition(session: Session, row: WorkflowRow, run_number: int) -> dict[str, Any]:
    """What run ``run_number`` of the workflow ``row`` runs (as data): its copy, or the stored
    definition for a run that kept none. Every round of a run reads this, never an edit."""
    found = run_copy(session, row.id, run_number) if run_number else None
    return found if found is not None else row.definition


def get(session: Session, workflow_id: str) -> Workflow:
    """A workflow with the steps of its latest run (read as values: no ORM object a step) and
    the definition that run started from."""
    row = get_row(session, workflow_id)
    return to_workflow(
        row,
        states=step_repo.step_states(session, row.id, row.run_count),
        copy=run_copy(session, row.id, row.run_count) if row.run_count else None,
    )


def list_all(session: Session, *, status: WorkflowStatus | None = None) -> list[Workflow]:
    """Workflows, newest first (each with the definition its latest run started from)."""
    latest = and_(
        _COPIES.workflow_id == WorkflowRow.id, _COPIES.run_number == WorkflowRow.run_count
    )
    query = (
        select(WorkflowRow, _COPIES.definition)
        .outerjoin(_COPIES, latest)
        .order_by(WorkflowRow.created_at.desc(), WorkflowRow.id)
    )
    if status is not None:
        query = query.where(WorkflowRow.status == status.value)
    return [to_workflow(row, copy=copy) for row, copy in session.execute(query)]


def start_run(session: Session, row: WorkflowRow) -> int:
    """Begin a new run: pending step rows for every step and a copy of the definition it runs
    (`run_copy`); returns the run number."""
    definition = definition_of(row.id, row.definition)
    row.run_count += 1
    row.round = 1
    row.status = WorkflowStatus.RUNNING.value
    row.stop_reason = None
    row.stop_code = None
    row.started_at = utcnow()
    row.finished_at = None
    step_repo.insert_pending(session, row.id, row.run_count, initial_step_keys(definition))
    copy = {"workflow_id": row.id, "run_number": row.run_count, "definition": row.definition}
    session.execute(insert(_COPIES).values(created_at=utcnow()), [copy])
    return row.run_count


def end(
    session: Session,
    row: WorkflowRow,
    status: WorkflowStatus,
    reason: str | None,
    code: str | None = None,
) -> None:
    """Set the workflow's final (or paused) state and why (``code``: for machines, if given)."""
    row.status = status.value
    row.stop_reason = reason
    if code is not None:
        row.stop_code = code
    if status is not WorkflowStatus.PAUSED:
        row.finished_at = utcnow()
    session.flush()


def started(session: Session, row: WorkflowRow) -> Workflow:
    """The workflow as `begin_run` left it, in its transaction (flushed: its ``updated_at`` is
    the one stored), without a read: its new run's steps pending (the rows `start_run` wrote)
    and the definition the run copied."""
    session.flush()
    keys = initial_step_keys(definition_of(row.id, row.definition))
    pending = StepStatus.PENDING
    states = [StepState(key=key, position=n, status=pending) for n, key in enumerate(keys)]
    return to_workflow(row, states=states)


def begin_run(session: Session, row: WorkflowRow) -> tuple[str, int]:
    """Start a new run of a workflow locked for update (refused while one is running or
    paused); returns the engine id of its first round and the run number."""
    if WorkflowStatus(row.status) in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED):
        raise ConflictError(
            f"workflow {row.id} is {row.status}",
            hint="resume or cancel it before starting a new run",
        )
    number = start_run(session, row)
    return next_round(row, first=True), number


def next_round(row: WorkflowRow, *, first: bool = False) -> str:
    """Start another engine execution of the current run; returns its engine id."""
    row.round = 1 if first else row.round + 1
    row.stop_code = None
    engine_id = engine_id_for(row.id, row.run_count, row.round)
    row.engine_id = engine_id
    return engine_id


def replace_definition(
    session: Session, row: WorkflowRow, definition: WorkflowDefinition, project_id: str | None
) -> Workflow:
    """Store an edited definition (its runs' step rows stay as they were)."""
    row.name = definition.name
    row.pattern = definition.pattern
    row.definition = definition.model_dump(mode="json", exclude_none=True)
    row.project_id = project_id
    session.flush()
    copy = run_copy(session, row.id, row.run_count) if row.run_count else None
    return to_workflow(row, step_repo.step_rows(session, row.id, row.run_count), copy=copy)
