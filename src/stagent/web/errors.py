"""One error shape for every error the web app returns.

API requests (paths under ``/api/``) get the JSON of `StagentError.to_dict`; FastAPI's own
validation errors and unknown routes are mapped onto the same shape. Pages get a rendered error
page, and htmx requests get an error fragment that ``app.js`` shows in place.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import HTMLResponse, JSONResponse, Response

from stagent.domain.errors import StagentError
from stagent.web.ui.templating import render_error_html

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid_input",
}


def error_body(
    status: int,
    code: str,
    message: str,
    hint: str | None = None,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The canonical error dict: `StagentError.to_dict`'s shape, plus optional field errors."""
    body: dict[str, Any] = {
        "ok": False,
        "status": status,
        "code": code,
        "error": message,
        "hint": hint,
    }
    if errors is not None:
        body["errors"] = errors
    return body


def is_api_path(path: str) -> bool:
    """True for JSON API paths, which get JSON errors rather than HTML."""
    return path.startswith(API_PREFIX)


def error_response(path: str, body: dict[str, Any], *, htmx: bool = False) -> Response:
    """Render an error body as JSON (API) or HTML (pages and htmx fragments)."""
    status = int(body["status"])
    if is_api_path(path):
        return JSONResponse(body, status_code=status)
    return HTMLResponse(render_error_html(body, fragment=htmx), status_code=status)


def field_errors(raw: Sequence[Any]) -> list[dict[str, str]]:
    """FastAPI/pydantic validation errors as ``{"field", "message"}`` pairs.

    The first part of a location says where the field came from (``body``, ``query``, ``path``):
    only that part is dropped, so a body field named ``path`` keeps its name."""
    out: list[dict[str, str]] = []
    for item in raw:
        loc = [str(part) for part in item.get("loc", ())]
        if loc and loc[0] in _SOURCES:
            loc = loc[1:]
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        out.append({"field": ".".join(loc) or "request", "message": message})
    return out


_SOURCES = ("body", "query", "path", "header", "cookie")
"""Where FastAPI says a request's value came from (the first part of an error's location)."""


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def _stagent_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StagentError)
    return error_response(request.url.path, exc.to_dict(), htmx=_is_htmx(request))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors())
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid input"
    body = error_body(422, "invalid_input", message, "fix the named fields", errors)
    return error_response(request.url.path, body, htmx=_is_htmx(request))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 404 and exc.detail in (None, "Not Found"):
        message = f"nothing at {request.method} {request.url.path}"
    else:
        message = str(exc.detail)
    body = error_body(status, _HTTP_CODES.get(status, "error"), message)
    response = error_response(request.url.path, body, htmx=_is_htmx(request))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = error_body(500, "internal_error", "an unexpected error occurred; see the server log")
    return error_response(request.url.path, body, htmx=_is_htmx(request))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise through the one error shape."""
    app.add_exception_handler(StagentError, _stagent_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
