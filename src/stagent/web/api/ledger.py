"""``/api/v1/ledger`` (rows, summaries, metrics, audits, CSV, imports, re-pricing) and
``/api/v1/pricing`` (the price table in use).

Reading is open; importing logs from disk and re-pricing history change the ledger and are the
person's decisions (owner token, on top of the CSRF protection every change has).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, WithJsonSchema

from stagent.domain.errors import ValidationError
from stagent.domain.ledger import LedgerFilter
from stagent.ledger.reports import Scope
from stagent.ledger.views import priced_model_json, table_json
from stagent.schemas.ledger import CapForecastOut, Grouping, SummaryOut
from stagent.web.api.budget_models import UsageOut
from stagent.web.api.models import ListOut, PathText, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.web.security import require_owner

router = api_router(tags=["ledger"])
OwnerOnly = [Depends(require_owner)]
SOURCES = {"run": "run", "claude-code": "import:claude-code", "codex": "import:codex"}
SourceName = Literal["run", "claude-code", "codex", "import:claude-code", "import:codex", ""]
"""Where rows come from: Stagent's own runs, or imported Claude Code / Codex logs (empty: any)."""
Source = Annotated[SourceName | None, Query(description="run, claude-code or codex")]
Day = Annotated[
    str | None,
    Query(description="a day in your zone (2026-11-30) or an ISO date and time"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "string", "format": "date-time"},
                {"type": "string", "maxLength": 0},
            ]
        }
    ),
]
"""``since`` / ``until``: a day or an instant (empty: no bound)."""


class ImportIn(BaseModel):
    """Which logs to import."""

    which: Literal["claude-code", "codex", "all"]
    path: PathText | None = Field(default=None, description="a folder instead of the default one")


def _source(text: str | None) -> str | None:
    if not text:
        return None
    if text not in SOURCES and text not in SOURCES.values():
        raise ValidationError(f"source: {text!r} is unknown", hint="run, claude-code or codex")
    return SOURCES.get(text, text)


def _scope(
    ws: WorkspaceDep,
    since: str | None,
    until: str | None,
    runtime: str | None,
    project_id: str | None,
    source: SourceName | None,
) -> Scope:
    return Scope(
        since=ws.ledger.instant(since, "since"),
        until=ws.ledger.instant(until, "until", end=True),
        runtime=runtime or None,
        project_id=project_id or None,
        source=_source(source or None),
    )


@router.get("/ledger", response_model=ListOut[UsageOut])
def list_rows(
    ws: WorkspaceDep,
    task_id: str | None = None,
    runtime: str | None = None,
    source: Source = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    since: Day = None,
    until: Day = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> ListOut[UsageOut]:
    """Ledger rows, newest first (``since`` / ``until``: days in your zone or ISO instants)."""
    where = LedgerFilter(
        task_id=task_id,
        runtime=runtime,
        source=_source(source),
        status=status_,
        since=ws.ledger.instant(since, "since"),
        until=ws.ledger.instant(until, "until", end=True),
    )
    return list_of([UsageOut.of(e) for e in ws.ledger.entries(where, limit=limit)])


@router.get("/ledger/summary", response_model=SummaryOut)
def summary(
    ws: WorkspaceDep,
    since: Day = None,
    until: Day = None,
    by: Grouping | None = None,
    runtime: str | None = None,
    project_id: str | None = None,
    source: Source = None,
) -> SummaryOut:
    """Requests, tokens and cost (all time without ``since``), grouped ``by`` if given."""
    scope = _scope(ws, since, until, runtime, project_id, source)
    return SummaryOut.model_validate(ws.ledger.summary(scope, by))


@router.get("/ledger/metrics")
def metrics(
    ws: WorkspaceDep,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    since: Day = None,
    until: Day = None,
    runtime: str | None = None,
    project_id: str | None = None,
    source: Source = None,
) -> dict[str, Any]:
    """What the Costs page shows over the last ``days`` days, or ``since`` to ``until`` (at
    most 366 days; a missing ``since`` is ``days`` before ``until``, a missing ``until`` is
    today): daily spend and tokens (and per runtime), model concentration with its Herfindahl
    index, runtime / project / source shares, velocity, the month-end forecast (and one per
    monthly cap), cost per task labelled complete, partial or estimated, and spend by profile,
    workflow and schedule with the cost per outcome."""
    scope = _scope(ws, None, None, runtime, project_id, source)
    data = ws.ledger.dashboard(scope, window=ws.ledger.window(days, since, until))
    data["cap_forecasts"] = [f.data() for f in _forecasts(ws)]
    return data


@router.get("/ledger/forecast", response_model=list[CapForecastOut])
def forecast(ws: WorkspaceDep) -> list[CapForecastOut]:
    """Month-end spend at the current pace against each monthly budget cap."""
    return _forecasts(ws)


def _forecasts(ws: WorkspaceDep) -> list[CapForecastOut]:
    zone = ws.budgets.zone
    budgets = [status.as_json(zone) for status in ws.budgets.statuses()]
    return [CapForecastOut.model_validate(f) for f in ws.ledger.cap_forecasts(budgets)]


@router.get("/ledger/audit/{task_id}")
def audit(task_id: str, ws: WorkspaceDep) -> dict[str, Any]:
    """A task's provider calls interleaved with its tool requests and decisions."""
    return ws.ledger.audit(task_id)


@router.get("/ledger/export.csv", response_class=Response)
def export_csv(
    ws: WorkspaceDep,
    since: Day = None,
    until: Day = None,
    runtime: str | None = None,
    project_id: str | None = None,
    source: Source = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
) -> Response:
    """Every matching row as CSV, oldest first (the Costs page's filters: runtime, project,
    source, status)."""
    where = LedgerFilter(
        runtime=runtime or None,
        project_id=project_id or None,
        status=status_ or None,
        source=_source(source or None),
        since=ws.ledger.instant(since, "since"),
        until=ws.ledger.instant(until, "until", end=True),
    )
    out = io.StringIO()
    ws.ledger.export_csv(where, out)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="stagent-ledger.csv"'},
    )


@router.post("/ledger/import", dependencies=OwnerOnly)
def import_logs(body: ImportIn, ws: WorkspaceDep) -> list[dict[str, Any]]:
    """Import hand-run Claude Code / Codex sessions (only what was added since last time)."""
    path = Path(body.path) if body.path else None
    # ~name of a user this machine does not have stays as typed: it does not exist
    with contextlib.suppress(RuntimeError):
        path = path.expanduser() if path is not None else None
    if path is not None and not path.exists():
        raise ValidationError(f"path: {path} does not exist")
    return [
        ws.ledger.run_import(plan).as_json() for plan in ws.ledger.import_plans(body.which, path)
    ]


@router.post("/ledger/reprice", dependencies=OwnerOnly)
def reprice(ws: WorkspaceDep, everything: bool = False) -> dict[str, Any]:
    """Recompute stored costs from raw counts with the current price table."""
    return ws.ledger.reprice(everything=everything).as_json()


@router.get("/pricing")
def pricing(ws: WorkspaceDep) -> dict[str, Any]:
    """The price table in use: version, and every model's prices per million tokens."""
    return table_json(ws.ledger.prices)


@router.get("/pricing/{model}")
def pricing_model(model: str, ws: WorkspaceDep) -> dict[str, Any]:
    """One model's prices (404: the model is unpriced)."""
    return priced_model_json(ws.ledger.prices, model)
