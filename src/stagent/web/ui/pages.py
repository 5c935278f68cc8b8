"""Page routes: whole HTML pages in the base layout."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query, Request
from starlette.responses import Response

from stagent.domain.run_options import RunOptions
from stagent.web.deps import STEPS_COOKIE, WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner
from stagent.web.ui import home_costs, views
from stagent.web.ui.inbox_views import card_view
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.stream import Topics
from stagent.web.ui.surfaces import NOT_BUILT, Surface
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()

STEPS_COOKIE_DAYS = 365


@router.get("/")
def home(request: Request, ws: WorkspaceDep) -> Response:
    """Home: the status cards, 24-hour activity, recent tasks and spend (a welcome while the
    workspace is empty)."""
    after = ws.tasks.last_seq()
    return page(
        request,
        "pages/home.html",
        active="home",
        title="Home",
        topics=Topics(home=True),
        after=after,
        **views.home_context(ws),
        **home_costs.cards_context(ws),
        **home_costs.spend_context(ws),
    )


@router.get("/board")
def board(
    request: Request,
    ws: WorkspaceDep,
    view: Annotated[Literal["kanban", "table"], Query()] = "kanban",
    steps: Annotated[Literal["show", "hide"] | None, Query()] = None,
    column: Annotated[views.ColumnKey | None, Query()] = None,
) -> Response:
    """The Board: kanban columns (or a table), the new-task form, live updates.

    ``steps=hide`` hides the tasks that run workflow steps (``show`` brings them back); the
    choice is remembered in a cookie, and steps are shown until someone hides them.
    ``column`` is the column a phone shows first (Home's status tiles link there).
    """
    after = ws.tasks.last_seq()
    chosen = steps or request.cookies.get(STEPS_COOKIE)
    context = views.board_context(ws, hide_steps=chosen == "hide")
    if column is not None:
        context["phone_column"] = column
    response = page(
        request,
        "pages/board.html",
        active="board",
        title="Board",
        topics=Topics(board=True),
        after=after,
        view=view,
        default_options=RunOptions(),
        runtimes=ws.runtimes.all(),
        projects=ws.projects.list(),
        profiles=ws.profiles.catalog().all(),
        show_steps=chosen != "hide",
        **context,
    )
    if steps is not None:
        response.set_cookie(
            STEPS_COOKIE, steps, max_age=STEPS_COOKIE_DAYS * 86400, samesite="strict", path="/"
        )
    return response


@router.get("/tasks/{task_id}")
def task_detail(request: Request, task_id: str, ws: WorkspaceDep) -> Response:
    """Task detail: fields, result, error, actions, an edit form and the live event log."""
    after = ws.tasks.last_seq()
    task = ws.tasks.get(task_id)
    events = [e for e in ws.tasks.events(task_id) if e.seq <= after and e.run_id is None]
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
        **task_cards_context(ws, task_id, owner=request_is_owner(request)),
        **views.task_head_context(ws, task),
        **views.task_runs_context(ws, task_id, upto=after),
    )


def task_cards_context(ws: Workspace, task_id: str, *, owner: bool) -> dict[str, Any]:
    """The task's pending approval cards, decidable right on its page by the person."""
    cards = ws.approvals.list_pending(task_id=task_id)
    return {"cards": [card_view(ws, card) for card in cards], "owner": owner}


@router.get("/ui/tasks/{task_id}/cards")
def task_cards(request: Request, task_id: str, ws: WorkspaceDep) -> Response:
    """The task's pending cards (refetched whenever its log moves)."""
    context = task_cards_context(ws, task_id, owner=request_is_owner(request))
    return fragment(render("fragments/task_cards.html", **context))


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
        owner=request_is_owner(request),
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
