"""``/api/v1/budgets`` (caps, spend, health, breach cards) and ``/api/v1/usage`` (the ledger).

Reading is open; setting caps and answering breach cards are the person's decisions and need
the owner's token (`require_owner`), on top of the CSRF protection every change has.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Query, Response, status

from stagent.domain.ledger import LedgerFilter
from stagent.governance.budgets_config import CLEAR, BudgetChange
from stagent.ledger.money import parse_usd
from stagent.web.api.budget_models import (
    BreachOut,
    BudgetIn,
    BudgetOut,
    BudgetsOut,
    RespondIn,
    UsageOut,
)
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.web.security import require_owner

router = api_router(tags=["budgets"])
OwnerOnly = [Depends(require_owner)]
Scope = Literal["overall", "runtime", "project"]


@router.get("/budgets", response_model=BudgetsOut)
def list_budgets(ws: WorkspaceDep) -> BudgetsOut:
    """Every configured scope (and overall): caps, spend today and this month, headroom,
    health, reset times; and the breach cards work is waiting on."""
    zone = ws.budgets.zone
    scopes = [BudgetOut.of(s, zone) for s in ws.budgets.statuses()]
    breaches = [BreachOut.of(c) for c in ws.budgets.breaches()]
    return BudgetsOut(
        timezone=ws.budgets.timezone_name(),
        pricing_version=ws.budgets.recorder.prices.version,
        data=scopes,
        count=len(scopes),
        breaches=breaches,
    )


@router.get("/budgets/breaches", response_model=ListOut[BreachOut])
def list_breaches(
    ws: WorkspaceDep, answered: Annotated[bool, Query(description="include answered")] = False
) -> ListOut[BreachOut]:
    """Breach cards, newest first (pending ones unless ``answered``)."""
    cards = ws.budgets.breaches(pending_only=not answered)
    return list_of([BreachOut.of(card) for card in cards])


@router.post(
    "/budgets/breaches/{card_id}/respond", response_model=BreachOut, dependencies=OwnerOnly
)
def respond(card_id: str, body: RespondIn, ws: WorkspaceDep) -> BreachOut:
    """Answer a breach card: ``raise`` the cap to ``amount_usd``, ``allow`` ``amount_usd`` more
    in this window, or ``cancel`` the waiting work. Waiting work wakes at once."""
    amount = parse_usd(body.amount_usd, "amount_usd") if body.amount_usd is not None else None
    card = ws.budgets.respond(card_id, body.action, amount, by="person (API)")
    return BreachOut.of(card)


@router.get("/budgets/{scope}", response_model=BudgetOut)
@router.get("/budgets/{scope}/{ref}", response_model=BudgetOut)
def get_budget(scope: Scope, ws: WorkspaceDep, ref: str | None = None) -> BudgetOut:
    """One scope (``overall``, ``runtime/NAME``, ``project/ID-OR-NAME``)."""
    return BudgetOut.of(ws.budgets.status(scope, ref), ws.budgets.zone)


@router.put("/budgets/{scope}", response_model=BudgetOut, dependencies=OwnerOnly)
@router.put("/budgets/{scope}/{ref}", response_model=BudgetOut, dependencies=OwnerOnly)
def put_budget(scope: Scope, body: BudgetIn, ws: WorkspaceDep, ref: str | None = None) -> BudgetOut:
    """Set caps for one scope; omitted fields stay, ``remove`` lists caps to drop."""

    def amount(value: object, name: str) -> int | None:
        if name in body.remove:
            return CLEAR
        return parse_usd(str(value), f"{name}_usd") if value is not None else None

    change = BudgetChange(
        scope=scope,
        ref=ref,
        daily=amount(body.daily_usd, "daily"),
        monthly=amount(body.monthly_usd, "monthly"),
        warn_at=body.warn_at,
        on_breach=body.on_breach,
        per_run=amount(body.per_run_usd, "per_run"),
    )
    return BudgetOut.of(ws.budgets.set(change), ws.budgets.zone)


@router.delete("/budgets/{scope}", status_code=status.HTTP_204_NO_CONTENT, dependencies=OwnerOnly)
@router.delete(
    "/budgets/{scope}/{ref}", status_code=status.HTTP_204_NO_CONTENT, dependencies=OwnerOnly
)
def delete_budget(scope: Scope, ws: WorkspaceDep, ref: str | None = None) -> Response:
    """Remove one scope's budget (its spend stays in the ledger)."""
    ws.budgets.clear(scope, ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/usage", response_model=ListOut[UsageOut])
def list_usage(
    ws: WorkspaceDep,
    task_id: str | None = None,
    project_id: str | None = None,
    runtime: str | None = None,
    model: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    cost_source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> ListOut[UsageOut]:
    """Ledger rows, newest first: one per provider call, blocked call or reservation."""
    where = LedgerFilter(
        task_id=task_id,
        project_id=project_id,
        runtime=runtime,
        model=model,
        status=status_,
        cost_source=cost_source,
        since=since,
        until=until,
    )
    rows = [UsageOut.of(e) for e in ws.budgets.usage(where, limit=limit)]
    return list_of(rows)
