"""The UI router: pages, actions, fragments and the live stream, all hidden from OpenAPI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse

from stagent.web.deps import WorkspaceDep
from stagent.web.security import request_is_owner
from stagent.web.ui import (
    actions,
    blueprints,
    budgets,
    costs,
    environment,
    inbox,
    pages,
    permissions,
    profiles,
    runtimes,
    schedules,
    workflows,
)
from stagent.web.ui.stream import Topics, live_events, resume_point

KEEPALIVE_SECONDS = 15

stream_router = APIRouter(prefix="/ui")


@stream_router.get("/stream")
async def stream(
    ws: WorkspaceDep,
    after: Annotated[int, Query(ge=0)] = 0,
    topics: Annotated[str, Query(max_length=2000)] = "board",
    last_event_id: Annotated[str | None, Header()] = None,
    owner: Annotated[bool, Depends(request_is_owner)] = False,
) -> EventSourceResponse:
    """The tab's one SSE stream; resumes from ``Last-Event-ID`` on reconnect."""
    start = resume_point(after, last_event_id)
    events = live_events(ws, after=start, topics=Topics.parse(topics), owner=owner)
    return EventSourceResponse(events, ping=KEEPALIVE_SECONDS)


def build_ui_router() -> APIRouter:
    """Every UI route, excluded from the OpenAPI schema."""
    router = APIRouter(include_in_schema=False)
    router.include_router(pages.router)
    router.include_router(actions.router)
    router.include_router(inbox.router)
    router.include_router(permissions.router)
    router.include_router(budgets.router)
    router.include_router(runtimes.router)
    router.include_router(profiles.router)
    router.include_router(blueprints.router)
    router.include_router(schedules.router)
    router.include_router(workflows.router)
    router.include_router(costs.router)
    router.include_router(environment.router)
    router.include_router(stream_router)
    return router
