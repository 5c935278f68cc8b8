"""Helpers that turn a request plus a context into a page or fragment response."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import Request
from starlette.responses import HTMLResponse, Response

from stagent.web.deps import get_workspace
from stagent.web.ui.stream import Topics, stream_url
from stagent.web.ui.templating import templates


def csrf_token(request: Request) -> str:
    """This browser's CSRF token (set by the security middleware)."""
    return str(getattr(request.state, "csrf_token", ""))


def page(
    request: Request,
    template: str,
    *,
    active: str,
    title: str,
    topics: Topics | None = None,
    after: int = 0,
    **context: Any,
) -> Response:
    """Render a whole page in the base layout; ``topics`` connects it to the live stream.

    Every page also subscribes to the ``inbox`` topic (the nav's live pending badge).
    """
    ws = get_workspace(request)
    if topics is None:
        topics, after = Topics(), ws.tasks.last_seq()
    full: dict[str, Any] = {
        "csrf_token": csrf_token(request),
        "active": active,
        "title": title,
        "stream_url": stream_url(replace(topics, inbox=True), after),
        "inbox_pending": ws.approvals.inbox_count(),
        **context,
    }
    return templates.TemplateResponse(request, template, full)


def fragment(html: str, *, status_code: int = 200, trigger: str | None = None) -> HTMLResponse:
    """An HTML fragment response, optionally firing an htmx event (``HX-Trigger``)."""
    response = HTMLResponse(html, status_code=status_code)
    if trigger:
        response.headers["HX-Trigger"] = trigger
    return response


def redirect(url: str) -> Response:
    """Tell htmx to navigate to ``url`` (a full page load)."""
    return Response(status_code=204, headers={"HX-Redirect": url})
