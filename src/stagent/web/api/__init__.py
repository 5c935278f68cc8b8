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
    workflows,
)
from stagent.web.routers import ERROR_RESPONSES

__all__ = ["ERROR_RESPONSES", "api_routers"]


def api_routers() -> list[APIRouter]:
    """Every resource's router of the ``/api/v1`` JSON API, in matching order."""
    return [
        projects.router,
        tasks.router,
        tasks.runs_router,
        runtimes.router,
        approvals.router,
        rules.router,
        budgets.router,
        profiles.router,
        workflows.router,
        schedules.router,
        ledger.router,
        scans.router,
    ]
