"""The JSON API under ``/api/v1``: pydantic models in, pydantic models out, one error shape."""

from __future__ import annotations

from fastapi import APIRouter

from stagent.web.api import (
    approvals,
    budgets,
    ledger,
    profiles,
    projects,
    rules,
    runtimes,
    scans,
    schedules,
    tasks,
)
from stagent.web.api.models import ErrorOut

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (403, "missing access token or CSRF token"),
        (404, "no such row"),
        (409, "conflicts with the current state"),
        (422, "invalid input; `errors` names each field"),
    )
}


def build_api_router() -> APIRouter:
    """The ``/api/v1`` router with every resource mounted."""
    router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    router.include_router(projects.router)
    router.include_router(tasks.router)
    router.include_router(runtimes.router)
    router.include_router(approvals.router)
    router.include_router(rules.router)
    router.include_router(budgets.router)
    router.include_router(profiles.router)
    router.include_router(schedules.router)
    router.include_router(ledger.router)
    router.include_router(scans.router)
    return router
