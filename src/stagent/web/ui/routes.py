"""The UI router: pages, actions, fragments and the live stream, all hidden from OpenAPI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from sse_starlette import EventSourceResponse

from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
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

stream_router = ui_router("/ui")


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


def ui_routers() -> list[APIRouter]:
    """Every UI router (hidden from OpenAPI), in matching order."""
    return [
        pages.router,
        actions.router,
        inbox.router,
        permissions.router,
        budgets.router,
        runtimes.router,
        profiles.router,
        blueprints.router,
        schedules.router,
        workflows.router,
        costs.router,
        environment.router,
        stream_router,
    ]
