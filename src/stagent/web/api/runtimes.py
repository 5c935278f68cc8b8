"""``/api/v1/runtimes``: the runtimes tasks can run on, with their capabilities."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel

from stagent.web.api.models import ListOut, RuntimeOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.web.ui.runtimes import check_runtime

router = api_router("/runtimes", tags=["runtimes"])


@router.get("", response_model=ListOut[RuntimeOut])
def list_runtimes(ws: WorkspaceDep) -> ListOut[RuntimeOut]:
    """Registered runtimes; ``simulated`` marks those that call no model."""
    return list_of([RuntimeOut.of(r) for r in ws.runtimes.all()])


class RuntimeHealthOut(BaseModel):
    """Whether a runtime can run here (what `stagent doctor` prints)."""

    runtime: str
    ok: bool
    summary: str
    version: str | None
    binary: str | None
    credentials: str | None
    """Where credentials come from; never the secret itself."""
    fix: str | None = None
    """When not ok: what to do about it."""


@router.get("/{name}/health", response_model=RuntimeHealthOut)
async def runtime_health(
    name: str, ws: WorkspaceDep, probe: Annotated[bool, Query()] = False
) -> RuntimeHealthOut:
    """Binary, version and credentials; ``probe=true`` adds one trivial provider call."""
    health = await check_runtime(ws, name, probe=probe)
    return RuntimeHealthOut(
        runtime=health.runtime,
        ok=health.ok,
        summary=health.summary,
        version=health.version,
        binary=health.binary,
        credentials=health.credentials,
        fix=health.fix,
    )
