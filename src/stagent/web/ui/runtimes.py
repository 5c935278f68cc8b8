"""Settings -> Runtimes: each runtime's capabilities and health (`stagent doctor` in a page).

Health rows load after the page (checking a binary takes a moment); a probe makes one trivial
provider call, so it is a deliberate POST.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from starlette.responses import Response

from stagent.domain.code_rules import UNSANDBOXED_WARNING
from stagent.runtimes.base import RuntimeHealth
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner, require_owner
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()


async def check_runtime(ws: Workspace, name: str, *, probe: bool) -> RuntimeHealth:
    """Run one runtime's health check; a crashing check becomes a failed row, not an error."""
    runtime = ws.runtimes.get(name)
    try:
        return await runtime.health(probe=probe)
    except Exception as exc:
        return RuntimeHealth(runtime.name, False, f"health check failed: {exc}")


@router.get("/settings/runtimes")
def runtimes_page(request: Request, ws: WorkspaceDep) -> Response:
    """The Runtimes page: capabilities now, health as each check finishes."""
    return page(
        request,
        "pages/runtimes.html",
        active="settings",
        title="Runtimes",
        runtimes=ws.runtimes.all(),
        **credentials_context(ws, owner=request_is_owner(request)),
        sandbox=ws.containment.status(),
        unsandboxed_warning=UNSANDBOXED_WARNING,
    )


def credentials_context(ws: Workspace, *, owner: bool, message: str = "") -> dict[str, Any]:
    """The saved API keys, by name only."""
    return {"keys": ws.credentials.saved(), "owner": owner, "message": message}


def _credentials(ws: Workspace, message: str) -> Response:
    ws.runtimes.forget_readiness()
    context = credentials_context(ws, owner=True, message=message)
    return fragment(render("fragments/credentials.html", **context))


@router.post("/ui/credentials", dependencies=[Depends(require_owner)])
def save_key(
    ws: WorkspaceDep,
    variable: Annotated[str, Form(max_length=100)],
    value: Annotated[str, Form(max_length=4000)],
) -> Response:
    """Save an API key (file mode 0600, outside the database; never shown again)."""
    ws.credentials.save(variable, value)
    return _credentials(ws, f"Saved {variable}. It will not be shown again.")


@router.post("/ui/credentials/{variable}/remove", dependencies=[Depends(require_owner)])
def remove_key(variable: str, ws: WorkspaceDep) -> Response:
    """Forget a saved API key."""
    found = ws.credentials.remove(variable)
    return _credentials(ws, f"Removed {variable}." if found else f"{variable} was not saved.")


@router.get("/ui/runtimes/{name}/health")
async def health_row(name: str, ws: WorkspaceDep) -> Response:
    """One runtime's health cell (binary, version, credentials)."""
    health = await check_runtime(ws, name, probe=False)
    return fragment(render("fragments/runtime_health.html", health=health, probed=False))


@router.post("/ui/runtimes/{name}/probe")
async def probe_row(name: str, ws: WorkspaceDep) -> Response:
    """The same check plus one trivial provider call."""
    health = await check_runtime(ws, name, probe=True)
    return fragment(render("fragments/runtime_health.html", health=health, probed=True))
