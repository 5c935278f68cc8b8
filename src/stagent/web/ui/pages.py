"""Page routes: whole HTML pages in the base layout."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from stagent.web.deps import WorkspaceDep
from stagent.web.ui import home_costs, views
from stagent.web.ui.rendering import page
from stagent.web.ui.stream import Topics
from stagent.web.ui.surfaces import NOT_BUILT, Surface

router = APIRouter()


@router.get("/")
def home(request: Request, ws: WorkspaceDep) -> Response:
    """Home: task counts by status and recently changed tasks."""
    after = ws.tasks.last_seq()
    return page(
        request,
        "pages/home.html",
        active="home",
        title="Home",
        topics=Topics(home=True),
        after=after,
        **views.home_context(ws),
        **home_costs.spend_context(ws),
    )


@router.get("/board")
def board(
    request: Request,
    ws: WorkspaceDep,
    view: Annotated[Literal["kanban", "table"], Query()] = "kanban",
) -> Response:
    """The Board: kanban columns (or a table), the new-task form, live updates."""
    after = ws.tasks.last_seq()
    return page(
        request,
        "pages/board.html",
        active="board",
        title="Board",
        topics=Topics(board=True),
        after=after,
        view=view,
        runtimes=ws.runtimes.all(),
        projects=ws.projects.list(),
        profiles=ws.profiles.catalog().all(),
        **views.board_context(ws),
    )


@router.get("/tasks/{task_id}")
def task_detail(request: Request, task_id: str, ws: WorkspaceDep) -> Response:
    """Task detail: fields, result, error, actions, an edit form and the live event log."""
    after = ws.tasks.last_seq()
    task = ws.tasks.get(task_id)
    events = [e for e in ws.tasks.events(task_id) if e.seq <= after]
    return page(
        request,
        "pages/task.html",
        active="board",
        title=task.title,
        topics=Topics(tasks=frozenset({task_id})),
        after=after,
        events=events,
        runtimes=ws.runtimes.all(),
        projects=ws.projects.list(),
        **views.task_head_context(ws, task),
    )


@router.get("/projects")
def projects(request: Request, ws: WorkspaceDep) -> Response:
    """Projects: every project with its task counts, and a create form."""
    return page(
        request,
        "pages/projects.html",
        active="projects",
        title="Projects",
        **views.projects_context(ws),
    )


@router.get("/projects/{ref}")
def project_detail(request: Request, ref: str, ws: WorkspaceDep) -> Response:
    """One project and its tasks (live)."""
    after = ws.tasks.last_seq()
    project = ws.projects.get(ref)
    counts = ws.projects.task_counts().get(project.id, {})
    return page(
        request,
        "pages/project.html",
        active="projects",
        title=project.name,
        topics=Topics(projects=frozenset({project.id})),
        after=after,
        project=project,
        counts=counts,
        **views.project_tasks_context(ws, project.id),
    )


@router.get("/settings")
def settings(request: Request, ws: WorkspaceDep) -> Response:
    """Settings: runtimes and their capabilities, where the data lives, workers."""
    return page(
        request,
        "pages/settings.html",
        active="settings",
        title="Settings",
        runtimes=ws.runtimes.all(),
        database_url=ws.store.safe_url,
        home=str(ws.settings.home),
        workers=ws.live_workers(),
        token_set=bool(ws.settings.token),
        is_worker=ws.is_worker,
    )


def _not_built_route(surface: Surface) -> None:
    def not_built(request: Request) -> Response:
        return page(
            request,
            "pages/not_built.html",
            active=surface.key,
            title=surface.label,
            surface=surface,
        )

    not_built.__doc__ = f"{surface.label}: not built yet."
    router.add_api_route(surface.path, not_built, methods=["GET"], name=f"page-{surface.key}")


for _surface in NOT_BUILT.values():
    _not_built_route(_surface)
