"""The Costs page (the ledger's dashboard and audit table) and the Monitor page (agents running
now, success rate, 24-hour activity, a live log stream across every task)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from starlette.responses import Response

from stagent.domain.errors import ValidationError
from stagent.ledger.money import shown_usd
from stagent.ledger.reports import Scope
from stagent.ledger.views import entry_json
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner, require_owner
from stagent.web.ui.monitor_lines import monitor_lines
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()
RANGES = (7, 30, 90, 365)
RANGE_FIELDS = ("From", "To")
"""The range's two date fields as the page labels them (named so in a bad range's error)."""
SOURCES = {
    "run": "Runs",
    "import:claude-code": "Claude Code (imported)",
    "import:codex": "Codex (imported)",
}
STATUSES = ("completed", "failed", "cancelled")
MONITOR_BACKLOG = 200


def _choice(value: str | None, allowed: list[str] | tuple[str, ...], field: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise ValidationError(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _titles(ws: Workspace, task_ids: set[str]) -> dict[str, str]:
    """The audit log's tasks by title, in one query (a task no longer stored keeps its id)."""
    return {task_id: title for task_id, (title, _) in ws.ledger.task_labels(list(task_ids)).items()}


def _workflows(ws: Workspace, task_ids: set[str]) -> dict[str, tuple[str, str]]:
    """The audit log's workflow steps: task id -> (workflow id, workflow name)."""
    steps = {t: w for t, w in ws.workflows.step_tasks().items() if t in task_ids}
    if not steps:
        return {}
    names = {w.id: w.name for w in ws.workflows.list() if w.id in set(steps.values())}
    return {t: (w, names[w]) for t, w in steps.items() if w in names}


@router.get("/costs")
def costs(
    request: Request,
    ws: WorkspaceDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    since: str | None = None,
    until: str | None = None,
    runtime: str | None = None,
    project: str | None = None,
    source: str | None = None,
    status: str | None = None,
) -> Response:
    """Costs: summary cards, charts, breakdowns, cost per task and the audit table, over the
    last ``days`` days or the days ``since`` to ``until`` (read like the ledger's ``--since`` /
    ``--until``: days in the workspace's zone, ``until`` included)."""
    projects = ws.projects.list()
    runtimes = sorted({*ws.runtimes.names(), "claude", "codex"})
    scope = Scope(
        runtime=_choice(runtime, runtimes, "runtime"),
        project_id=_choice(project, [p.id for p in projects], "project"),
        source=_choice(source, list(SOURCES), "source"),
        status=_choice(status, STATUSES, "status"),
    )
    since, until = (since or "").strip(), (until or "").strip()
    problem: ValidationError | None = None
    try:
        window = ws.ledger.window(days, since, until, names=RANGE_FIELDS)
    except ValidationError as error:  # said above the fields, which keep what was typed
        window, problem = ws.ledger.window(days), error
    data = ws.ledger.dashboard(scope, window=window)
    audited = replace(scope, since=window.since, until=window.until).filter()
    rows = ws.ledger.entries(replace(audited, simulated=None), limit=100, holds=False)
    kept = {
        "runtime": scope.runtime,
        "project": scope.project_id,
        "source": scope.source,
        "status": scope.status,
    }
    export = {"since": since or data["since"], "until": until, **kept}
    export["project_id"] = export.pop("project")
    task_ids = {row.task_id for row in rows if row.task_id}
    budgets = [status.as_json(ws.budgets.zone) for status in ws.budgets.statuses()]
    response = page(
        request,
        "pages/costs.html",
        active="costs",
        title="Costs",
        data=data,
        rows=[entry_json(row) for row in rows],
        spend_text={runtime: [shown_usd(m) for m in spend]
                    for runtime, spend in data["daily_by_runtime"].items()},
        task_titles=_titles(ws, task_ids),
        workflow_of=_workflows(ws, task_ids),
        range_problem=problem.to_dict() if problem else None,
        filters={"days": days, "since": _day_value(since, data["since"], problem),
                 "until": _day_value(until, data["until"], problem),
                 **{key: value or "" for key, value in kept.items()}},
        ranges=[(d, f"/costs?{_query(days=d, **kept)}", not window.chosen and d == days)
                for d in RANGES],
        runtimes=runtimes,
        projects=projects,
        sources=SOURCES,
        statuses=STATUSES,
        export_url=f"/api/v1/ledger/export.csv?{_query(**export)}",
        overall_monthly=_overall_monthly(budgets),
        is_owner=request_is_owner(request),
        forecasts=ws.ledger.cap_forecasts(budgets),
    )  # fmt: skip
    if problem is not None:
        response.status_code = problem.status
    return response


def _query(**params: object) -> str:
    """A query string of the parameters that have a value."""
    return urlencode([(key, value) for key, value in params.items() if value])


def _day_value(given: str, day: str, problem: ValidationError | None) -> str:
    """A date field's value: the day the person gave, the window's day for a date-time they
    gave (a date field shows days only; after a bad range: nothing), nothing when none."""
    if not given or len(given) == 10:
        return given
    return "" if problem else day


@router.post("/ui/costs/import", dependencies=[Depends(require_owner)])
def import_sessions(ws: WorkspaceDep) -> Response:
    """Import the Claude Code and Codex sessions run by hand on this machine (only what was
    added since the last import); answers what each source added."""
    reports = [ws.ledger.run_import(plan).as_json() for plan in ws.ledger.import_plans("all")]
    return fragment(render("fragments/import_result.html", reports=reports, sources=SOURCES))


def _overall_monthly(budgets: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The overall monthly cap's status among ``budgets`` (every scope's status as JSON; the
    first is ``overall``), if one is set (for the forecast card)."""
    overall = next((b for b in budgets if b.get("scope") == "overall"), None)
    monthly = overall.get("monthly") if overall else None
    return monthly if monthly and monthly.get("cap_micros") is not None else None


@router.get("/monitor")
def monitor(request: Request, ws: WorkspaceDep) -> Response:
    """Monitor: agents running now, success rate, 24-hour activity and the live log stream."""
    last = ws.tasks.last_seq()
    backlog = ws.tasks.feed(after=max(0, last - MONITOR_BACKLOG), limit=MONITOR_BACKLOG)
    return page(
        request,
        "pages/monitor.html",
        active="monitor",
        title="Monitor",
        data=ws.ledger.monitor(),
        lines=monitor_lines(ws, list(reversed(backlog))),
        log_after=last,
        runtimes=sorted({*ws.runtimes.names(), "claude", "codex"}),
        kinds=("text", "tool_request", "tool_result", "usage", "result", "error", "status", "note",
               "approval", "decision"),
    )  # fmt: skip
