"""Settings -> Budgets: spend, headroom and health per scope, a form to set caps, breach cards.

Changing caps and answering breach cards are the person's decisions: those routes need the
owner's token (the ``stagent_owner`` cookie from the link ``stagent serve`` prints), on top of
the CSRF token every page request carries.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from starlette.responses import Response

from stagent.domain.errors import ValidationError
from stagent.governance.budgets_breach import card_json
from stagent.governance.budgets_config import CLEAR, BudgetChange
from stagent.ledger.money import parse_usd
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner, require_owner
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()
OwnerOnly = [Depends(require_owner)]


def budgets_context(ws: Workspace) -> dict[str, Any]:
    """What the Budgets panel shows."""
    zone = ws.budgets.zone
    return {
        "scopes": [status.as_json(zone) for status in ws.budgets.statuses()],
        "breaches": [card_json(card) for card in ws.budgets.breaches()],
        "timezone": ws.budgets.timezone_name(),
        "pricing_version": ws.budgets.recorder.prices.version,
        "message": "",
    }


def _panel(ws: Workspace, trigger: str | None = None, message: str = "") -> Response:
    context = {**budgets_context(ws), "message": message}
    return fragment(render("fragments/budgets_panel.html", **context), trigger=trigger)


@router.get("/settings/budgets")
def budgets_page(request: Request, ws: WorkspaceDep) -> Response:
    """The Budgets page."""
    return page(
        request,
        "pages/budgets.html",
        active="settings",
        title="Budgets",
        runtimes=ws.runtimes.names(),
        projects=ws.projects.list(),
        is_owner=request_is_owner(request),
        **budgets_context(ws),
    )


@router.get("/ui/budgets")
def budgets_panel(ws: WorkspaceDep) -> Response:
    """The panel alone (refreshed after changes)."""
    return _panel(ws)


def _amount(text: str, field: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if text.lower() in ("none", "off", "unlimited"):
        return CLEAR
    return parse_usd(text, field)


@router.post("/ui/budgets", dependencies=OwnerOnly)
def set_budget(
    ws: WorkspaceDep,
    scope: Annotated[str, Form()] = "overall",
    runtime: Annotated[str, Form()] = "",
    project: Annotated[str, Form()] = "",
    daily: Annotated[str, Form()] = "",
    monthly: Annotated[str, Form()] = "",
    warn_at: Annotated[str, Form()] = "",
    on_breach: Annotated[str, Form()] = "",
    per_run: Annotated[str, Form()] = "",
) -> Response:
    """Save caps for one scope from the form."""
    ref = {"runtime": runtime, "project": project}.get(scope) or None
    try:
        warn = float(warn_at) if warn_at.strip() else None
    except ValueError:
        raise ValidationError(f"warn_at: {warn_at!r} is not a number like 0.8") from None
    change = BudgetChange(
        scope=scope,
        ref=ref,
        daily=_amount(daily, "daily"),
        monthly=_amount(monthly, "monthly"),
        warn_at=warn,
        on_breach=on_breach or None,
        per_run=_amount(per_run, "per_run"),
    )
    ws.budgets.set(change)
    where = f"{scope} {ref}" if ref else scope
    return _panel(ws, trigger="budget-saved", message=f"Saved the caps for {where}.")


@router.post("/ui/budgets/clear", dependencies=OwnerOnly)
def clear_budget(
    ws: WorkspaceDep,
    scope: Annotated[str, Form()],
    ref: Annotated[str, Form()] = "",
) -> Response:
    """Remove one scope's budget."""
    ws.budgets.clear(scope, ref or None)
    where = f"{scope} {ref}" if ref else scope
    return _panel(ws, message=f"Removed the caps for {where}.")


@router.post("/ui/budgets/breaches/{card_id}/respond", dependencies=OwnerOnly)
def respond(
    card_id: str,
    ws: WorkspaceDep,
    action: Annotated[str, Form()],
    amount: Annotated[str, Form()] = "",
) -> Response:
    """Answer a breach card from the page."""
    micros = parse_usd(amount, "amount") if amount.strip() else None
    ws.budgets.respond(card_id, action, micros, by="person (web)")
    return _panel(ws, trigger="budget-answered")
