"""htmx action routes (POST, CSRF-protected) and fragment routes for the Board and Projects.

Task actions answer with the fragment the caller shows: the Board (``view=board``, the default)
or the task's header (``view=task``). The live stream pushes the same fragments to other tabs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Form, Query
from starlette.responses import Response

from stagent.domain.board import Cursor
from stagent.domain.ids import ensure_aware
from stagent.domain.run_options import RUNTIME_OPTION_FIELDS
from stagent.engine.services import TaskDraft
from stagent.web.deps import StepsHidden, WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.ui import fragments, views
from stagent.web.ui.forms import blank_to_none, form_options, parse_scenario_text
from stagent.web.ui.rendering import fragment, redirect
from stagent.workspace import Workspace

router = ui_router("/ui")

View = Annotated[Literal["board", "task"], Form()]


def _answer(
    ws: Workspace, task_id: str, view: str, trigger: str | None = None, *, hide: bool = False
) -> Response:
    if view == "task":
        head = fragments.task_head(ws, task_id)
        if head is None:
            return redirect("/board")
        return fragment(head, trigger=trigger)
    return fragment(fragments.board(ws, hide_steps=hide), trigger=trigger)


@router.get("/board")
def board_fragment(ws: WorkspaceDep, hide: StepsHidden) -> Response:
    """The Board's columns and table (used to refresh after a refused drag)."""
    return fragment(fragments.board(ws, hide_steps=hide))


@router.get("/board/more")
def board_more(
    ws: WorkspaceDep,
    hide: StepsHidden,
    after: Annotated[datetime, Query()],
    after_id: Annotated[str, Query(max_length=64)],
    column: Annotated[views.ColumnKey | Literal["table"], Query()] = "table",
) -> Response:
    """A Board column's next cards past the task ``after_id`` created at ``after`` (``table``:
    the table's next rows) and a button for the rest."""
    chosen = None if column == "table" else column
    cursor = Cursor(ensure_aware(after), after_id)
    return fragment(fragments.board_more(ws, chosen, cursor, hide_steps=hide))


@router.post("/tasks")
def create_task(
    ws: WorkspaceDep,
    hide: StepsHidden,
    title: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    runtime: Annotated[str, Form()] = "scripted",
    priority: Annotated[int, Form(ge=0, le=4)] = 2,
    scenario: Annotated[str, Form()] = "",
    profile: Annotated[str, Form(max_length=64)] = "",
    model: Annotated[str, Form()] = "",
    max_turns: Annotated[str, Form()] = "",
    max_budget_usd: Annotated[str, Form()] = "",
) -> Response:
    """Create a task from the Board's form; answers with the Board."""
    options = form_options({}, model=model, max_turns=max_turns, max_budget_usd=max_budget_usd)
    draft = TaskDraft(
        title=title,
        description=description,
        project=blank_to_none(project),
        runtime=runtime,
        profile=blank_to_none(profile),
        priority=priority,
        scenario=parse_scenario_text(scenario),
        options=options,
    )
    ws.tasks.create(draft)
    return fragment(fragments.board(ws, hide_steps=hide), trigger="task-created")


@router.post("/tasks/{task_id}/run")
def run_task(task_id: str, ws: WorkspaceDep, hide: StepsHidden, view: View = "board") -> Response:
    """Queue a run."""
    ws.tasks.run(task_id)
    return _answer(ws, task_id, view, hide=hide)


@router.post("/tasks/{task_id}/cancel")
def cancel_task(
    task_id: str, ws: WorkspaceDep, hide: StepsHidden, view: View = "board"
) -> Response:
    """Cancel a task."""
    ws.tasks.cancel(task_id)
    return _answer(ws, task_id, view, hide=hide)


@router.post("/tasks/{task_id}/delete")
def delete_task(
    task_id: str, ws: WorkspaceDep, hide: StepsHidden, view: View = "board"
) -> Response:
    """Delete a task; from its own page, go back to the Board."""
    ws.tasks.delete(task_id)
    if view == "task":
        return redirect("/board")
    return fragment(fragments.board(ws, hide_steps=hide))


@router.post("/tasks/{task_id}/edit")
def edit_task(
    task_id: str,
    ws: WorkspaceDep,
    hide: StepsHidden,
    title: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    runtime: Annotated[str, Form()] = "scripted",
    priority: Annotated[int, Form(ge=0, le=4)] = 2,
    model: Annotated[str, Form()] = "",
    max_turns: Annotated[str, Form()] = "",
    max_budget_usd: Annotated[str, Form()] = "",
    view: View = "task",
) -> Response:
    """Save the edit form (run options included; a bad one names its field)."""
    stored = ws.tasks.get(task_id).options.stored()
    # Another runtime's own options do not carry over when the runtime changes.
    current = {k: v for k, v in stored.items() if k not in RUNTIME_OPTION_FIELDS or k == runtime}
    changes: dict[str, Any] = {
        "title": title,
        "description": description,
        "project_id": blank_to_none(project),
        "runtime": runtime,
        "priority": priority,
        "options": form_options(
            current, model=model, max_turns=max_turns, max_budget_usd=max_budget_usd
        ),
    }
    ws.tasks.update(task_id, changes)
    return _answer(ws, task_id, view, trigger="task-saved", hide=hide)


@router.post("/projects")
def create_project(
    ws: WorkspaceDep,
    name: Annotated[str, Form()],
    description: Annotated[str, Form()] = "",
    directory: Annotated[str, Form()] = "",
) -> Response:
    """Create a project from the Projects form; answers with the projects table."""
    ws.projects.create(name, description=description, directory=blank_to_none(directory))
    return fragment(fragments.projects_table(ws), trigger="project-created")


@router.post("/projects/{ref}/delete")
def delete_project(ref: str, ws: WorkspaceDep) -> Response:
    """Delete a project (its tasks stay, without a project) and go back to the list."""
    ws.projects.delete(ref)
    return redirect("/projects")
