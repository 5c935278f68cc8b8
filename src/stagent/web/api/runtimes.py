"""``/api/v1/runtimes``: the runtimes tasks can run on, with their capabilities."""

from __future__ import annotations

from fastapi import APIRouter

from stagent.web.api.models import ListOut, RuntimeOut, list_of
from stagent.web.deps import WorkspaceDep

router = APIRouter(prefix="/runtimes", tags=["runtimes"])


@router.get("", response_model=ListOut[RuntimeOut])
def list_runtimes(ws: WorkspaceDep) -> ListOut[RuntimeOut]:
    """Registered runtimes; ``simulated`` marks those that call no model."""
    return list_of([RuntimeOut.of(r) for r in ws.runtimes.all()])
