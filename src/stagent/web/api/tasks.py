"""``/api/v1/tasks`` and ``/api/v1/runs``: task CRUD, run, cancel, Board moves, runs and the
event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from stagent.domain.events import MAX_SEQ
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.services import TaskDraft
from stagent.web.api.models import (
    EventOut,
    ListOut,
    MoveIn,
    RunOut,
    TaskDetailOut,
    TaskIn,
    TaskOut,
    TaskPatch,
    list_of,
)
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.workspace import Workspace

router = api_router("/tasks", tags=["tasks"])
runs_router = api_router("/runs", tags=["runs"])


def task_out(ws: Workspace, task: Task) -> TaskOut:
    """A task in the shared schema."""
    return TaskOut.of(task, simulated=ws.runtimes.is_simulated(task.runtime))


@router.get("", response_model=ListOut[TaskOut])
def list_tasks(
    ws: WorkspaceDep,
    status: Annotated[TaskStatus | None, Query()] = None,
    project: Annotated[str | None, Query(description="project id or name")] = None,
) -> ListOut[TaskOut]:
    """Tasks, newest first, optionally filtered by status and project."""
    return list_of([task_out(ws, t) for t in ws.tasks.list(status=status, project=project)])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TaskOut)
def create_task(body: TaskIn, ws: WorkspaceDep) -> TaskOut:
    """Create a planned task (its run options are validated; a bad one is a 422 naming it)."""
    draft = TaskDraft(
        title=body.title,
        description=body.description,
        project=body.project,
        runtime=body.runtime,
        profile=body.profile,
        priority=body.priority,
        scenario=body.scenario,
        options=body.options,
    )
    return task_out(ws, ws.tasks.create(draft))


@router.get("/{task_id}", response_model=TaskDetailOut)
def get_task(task_id: str, ws: WorkspaceDep) -> TaskDetailOut:
    """One task with its runs and its event log."""
    task = ws.tasks.get(task_id)
    return TaskDetailOut.detail(
        task,
        simulated=ws.runtimes.is_simulated(task.runtime),
        runs=ws.tasks.runs(task_id),
        events=ws.tasks.events(task_id),
    )


@router.patch("/{task_id}", response_model=TaskOut)
def update_task(task_id: str, body: TaskPatch, ws: WorkspaceDep) -> TaskOut:
    """Edit a task that is not queued or running (409 if it is)."""
    return task_out(ws, ws.tasks.update(task_id, body.changes()))


@router.delete("/{task_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_task(task_id: str, ws: WorkspaceDep) -> Response:
    """Delete a task that is not running, with its log (409 if it runs)."""
    ws.tasks.delete(task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{task_id}/run", status_code=status.HTTP_202_ACCEPTED, response_model=TaskOut)
def run_task(task_id: str, ws: WorkspaceDep) -> TaskOut:
    """Queue a new run; a worker picks it up (409 if it is already running)."""
    return task_out(ws, ws.tasks.run(task_id))


@router.post("/{task_id}/cancel", response_model=TaskOut)
def cancel_task(task_id: str, ws: WorkspaceDep) -> TaskOut:
    """Cancel a task; a running agent is stopped (409 if it already ended)."""
    return task_out(ws, ws.tasks.cancel(task_id))


@router.post("/{task_id}/move", response_model=TaskOut)
def move_task(task_id: str, body: MoveIn, ws: WorkspaceDep) -> TaskOut:
    """A Board drag: planned <-> queued, or a finished task back to planned (409 otherwise)."""
    return task_out(ws, ws.tasks.move(task_id, body.status))


@router.get("/{task_id}/events", response_model=ListOut[EventOut])
def task_events(
    task_id: str,
    ws: WorkspaceDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ, description="only events after this seq")] = 0,
) -> ListOut[EventOut]:
    """A task's event log, oldest first."""
    return list_of([EventOut.of(e) for e in ws.tasks.events(task_id, after=after)])


@router.get("/{task_id}/runs", response_model=ListOut[RunOut])
def task_runs(task_id: str, ws: WorkspaceDep) -> ListOut[RunOut]:
    """A task's runs, oldest first: one record per run."""
    return list_of([RunOut.of(run) for run in ws.tasks.runs(task_id)])


@runs_router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: str, ws: WorkspaceDep) -> RunOut:
    """One run: subject, options, attempt, status, times, stop reason and cost."""
    return RunOut.of(ws.tasks.run_record(run_id))


@runs_router.get("/{run_id}/events", response_model=ListOut[EventOut])
def run_events(run_id: str, ws: WorkspaceDep) -> ListOut[EventOut]:
    """One run's events, oldest first."""
    return list_of([EventOut.of(e) for e in ws.tasks.run_events(run_id)])
