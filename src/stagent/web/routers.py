"""Routers whose routes are complete where they are declared.

FastAPI's ``include_router`` rebuilds every route it includes (the endpoint's dependencies, a
pydantic adapter per parameter and response): building the app's ~160 routes twice was a tenth
of ``stagent serve``'s start-up. Instead each module declares its routes with their final path,
error responses and OpenAPI visibility (`api_router`, `ui_router`), and `add_routes` puts those
route objects on the app as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

from fastapi import APIRouter, FastAPI

from stagent.web.api.models import ErrorOut

API_PREFIX = "/api/v1"
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (403, "missing access token or CSRF token"),
        (404, "no such row"),
        (409, "conflicts with the current state"),
        (422, "invalid input; `errors` names each field"),
    )
}
"""The error shapes every JSON API route documents."""


def api_router(prefix: str = "", *, tags: list[str | Enum] | None = None) -> APIRouter:
    """A router of the JSON API: under ``/api/v1``, with the error responses documented."""
    return APIRouter(prefix=API_PREFIX + prefix, tags=tags, responses=ERROR_RESPONSES)


def ui_router(prefix: str = "") -> APIRouter:
    """A router of the UI: pages, actions and fragments, left out of the OpenAPI schema."""
    return APIRouter(prefix=prefix, include_in_schema=False)


def add_routes(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Put each router's routes on ``app`` as they are (no rebuild), in order."""
    for router in routers:
        app.router.routes.extend(router.routes)
