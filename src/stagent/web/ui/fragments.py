"""HTML fragments shared by page routes, action routes and the live stream."""

from __future__ import annotations

from stagent.domain.board import Cursor
from stagent.domain.errors import NotFoundError
from stagent.domain.events import LoggedEvent
from stagent.domain.workflow_runs import Workflow
from stagent.ledger.money import shown_usd
from stagent.web.ui import home_costs, views
from stagent.web.ui.templating import render
from stagent.web.ui.workflow_views import run_context
from stagent.workspace import Workspace


def board(ws: Workspace, *, hide_steps: bool = False) -> str:
    """The Board's kanban columns and table (both; CSS shows the chosen view), without the
    tasks that run workflow steps if the person hid them."""
    return render("fragments/board.html", **views.board_context(ws, hide_steps=hide_steps))


def board_more(
    ws: Workspace, column: views.ColumnKey | None, after: Cursor, *, hide_steps: bool = False
) -> str:
    """A Board column's next cards (None: the table's next rows) and a "Show more" button."""
    context = views.board_more_context(ws, column, after, hide_steps=hide_steps)
    return render("fragments/board_more.html", **context)


def board_cards(ws: Workspace, task_ids: list[str]) -> str:
    """The Board's cards (and table rows) of these tasks only, for the live stream."""
    return render("fragments/board_cards.html", **views.board_cards_context(ws, task_ids))


def task_head(ws: Workspace, task_id: str) -> str | None:
    """A task's header fragment, or None if the task no longer exists."""
    try:
        task = ws.tasks.get(task_id)
    except NotFoundError:
        return None
    return render("fragments/task_head.html", **views.task_head_context(ws, task))


def task_runs(ws: Workspace, task_id: str, *, upto: int) -> str | None:
    """A task's run sections (each with its log up to ``upto``), or None if it is gone."""
    try:
        ws.tasks.get(task_id)
    except NotFoundError:
        return None
    return render("fragments/task_runs.html", **views.task_runs_context(ws, task_id, upto=upto))


def run_cost(micros: int) -> str:
    """A live run's spend so far, as its Cost field on the task page reads it."""
    return render("fragments/run_cost.html", cost=shown_usd(micros), so_far=True)


def log_line(event: LoggedEvent) -> str:
    """One line of a task's event log."""
    return render("fragments/log_line.html", event=event)


def project_tasks(ws: Workspace, project_id: str) -> str:
    """A project's tasks table."""
    return render("fragments/task_table.html", **views.project_tasks_context(ws, project_id))


def projects_table(ws: Workspace) -> str:
    """The Projects page's table."""
    return render("fragments/projects_table.html", **views.projects_context(ws))


def home_summary(ws: Workspace) -> str:
    """Home's status and spend cards, activity and recent tasks."""
    return render(
        "fragments/home_summary.html",
        **views.home_context(ws),
        **home_costs.cards_context(ws),
        **home_costs.spend_context(ws),
    )


def workflow_run(ws: Workspace, workflow: Workflow) -> str:
    """A workflow's run view: header, actions, the graph of its steps and a loop's timeline."""
    return render("fragments/workflow_run.html", **run_context(ws, workflow))
