"""``/api/v1/rules``: saved permission rules, trust presets, Claude Code settings files.

Listing is open; every change needs the person (`require_owner`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response, status

from stagent.web.api.governance_models import (
    ExportOut,
    FileIn,
    ImportOut,
    PresetChangeOut,
    PresetOut,
    RuleIn,
    RuleOut,
    ScopeIn,
    ScopeName,
)
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router
from stagent.web.security import require_owner

router = api_router("/rules", tags=["rules"])
OwnerOnly = [Depends(require_owner)]
PresetName = Literal["read-only", "git-safe", "full-auto"]
"""The trust presets (`stagent.governance.presets.PRESETS`; a test keeps the two equal)."""


@router.get("", response_model=ListOut[RuleOut])
def list_rules(
    ws: WorkspaceDep,
    scope: Annotated[ScopeName | None, Query()] = None,
    ref: Annotated[str | None, Query(description="task id, or project id or name")] = None,
) -> ListOut[RuleOut]:
    """Saved rules, narrower scopes first."""
    return list_of([RuleOut.of(rule) for rule in ws.rules.list(scope=scope, ref=ref)])


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=RuleOut, dependencies=OwnerOnly
)
def add_rule(body: RuleIn, ws: WorkspaceDep) -> RuleOut:
    """Save a rule; a malformed form, or one Claude Code would ignore, is a 422 with the reason."""
    saved = ws.rules.add(
        body.rule, body.effect, scope=body.scope, ref=body.ref, acknowledged=body.acknowledge_risk
    )
    return RuleOut.of(saved)


@router.get("/presets", response_model=ListOut[PresetOut])
def list_presets(
    ws: WorkspaceDep,
    scope: Annotated[ScopeName, Query()] = "global",
    ref: Annotated[str | None, Query()] = None,
) -> ListOut[PresetOut]:
    """The trust presets and which are active at a scope."""
    return list_of([PresetOut.of(p) for p in ws.rules.presets(scope=scope, ref=ref)])


@router.post("/presets/{name}", response_model=PresetChangeOut, dependencies=OwnerOnly)
def apply_preset(name: PresetName, body: ScopeIn, ws: WorkspaceDep) -> PresetChangeOut:
    """Add the preset's rules (idempotent)."""
    added = ws.rules.apply_preset(
        name, scope=body.scope, ref=body.ref, acknowledged=body.acknowledge_risk
    )
    return PresetChangeOut(name=name, added=[RuleOut.of(r) for r in added])


@router.delete("/presets/{name}", response_model=PresetChangeOut, dependencies=OwnerOnly)
def remove_preset(
    name: PresetName,
    ws: WorkspaceDep,
    scope: Annotated[ScopeName, Query()] = "global",
    ref: Annotated[str | None, Query()] = None,
) -> PresetChangeOut:
    """Remove only the preset's own rules."""
    return PresetChangeOut(name=name, removed=ws.rules.remove_preset(name, scope=scope, ref=ref))


@router.post("/import", response_model=ImportOut, dependencies=OwnerOnly)
def import_rules(body: FileIn, ws: WorkspaceDep) -> ImportOut:
    """Import ``permissions`` from a Claude Code settings file on this machine."""
    result = ws.rules.import_file(
        body.path, scope=body.scope, ref=body.ref, acknowledged=body.acknowledge_risk
    )
    return ImportOut.of(result)


@router.post("/export", response_model=ExportOut, dependencies=OwnerOnly)
def export_rules(body: FileIn, ws: WorkspaceDep) -> ExportOut:
    """Merge one scope's rules into a Claude Code settings file (other keys are kept)."""
    result = ws.rules.export_file(body.path, scope=body.scope, ref=body.ref, replace=body.replace)
    return ExportOut.of(body.path, result)


@router.get("/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: str, ws: WorkspaceDep) -> RuleOut:
    """One rule."""
    return RuleOut.of(ws.rules.get(rule_id))


@router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=OwnerOnly)
def delete_rule(rule_id: str, ws: WorkspaceDep) -> Response:
    """Delete a rule."""
    ws.rules.remove(rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
