"""Settings -> Permissions: rules by scope, trust presets, import/export of Claude Code settings.

Every change needs the person (`require_owner`) and answers with the re-rendered section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from starlette.responses import Response

from stagent.domain.code_rules import UNSANDBOXED_WARNING, runs_code
from stagent.domain.permissions import PermissionRule
from stagent.governance.defaults import MODE_DESCRIPTIONS
from stagent.governance.presets import PRESETS, preset_rules
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner, require_owner
from stagent.web.ui.forms import blank_to_none
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()
OwnerOnly = [Depends(require_owner)]


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """The rules of one scope, under a heading."""

    title: str
    rules: list[PermissionRule]


def permissions_context(
    ws: Workspace, *, owner: bool, message: str = "", details: list[str] | None = None
) -> dict[str, Any]:
    """Presets (global scope), the trust tier, and every rule grouped by scope."""
    rules = ws.rules.list()
    return {
        "owner": owner,
        "default_mode": ws.permission_defaults.mode(),
        "default_modes": MODE_DESCRIPTIONS,
        "presets": ws.rules.presets(),
        "tier": ws.rules.tier(),
        "groups": [
            RuleGroup("Everywhere (global)", [r for r in rules if r.scope == "global"]),
            RuleGroup("Per project", [r for r in rules if r.scope == "project"]),
            RuleGroup("Per task", [r for r in rules if r.scope == "task"]),
        ],
        "project_names": {p.id: p.name for p in ws.projects.list()},
        "message": message,
        "details": details or [],
        "sandbox": ws.containment.status(),
        "runs_code": runs_code,
        "code_presets": {
            p.name for p in PRESETS.values() if any(runs_code(r) for r in preset_rules(p.name))
        },
        "unsandboxed_warning": UNSANDBOXED_WARNING,
    }


def _section(ws: Workspace, message: str = "", details: list[str] | None = None) -> Response:
    html = render(
        "fragments/permissions.html",
        **permissions_context(ws, owner=True, message=message, details=details),
    )
    return fragment(html)


@router.get("/settings/permissions")
def permissions_page(request: Request, ws: WorkspaceDep) -> Response:
    """The Permissions page."""
    return page(
        request,
        "pages/permissions.html",
        active="settings",
        title="Permissions",
        **permissions_context(ws, owner=request_is_owner(request)),
    )


@router.post("/ui/rules", dependencies=OwnerOnly)
def add_rule(
    ws: WorkspaceDep,
    rule: Annotated[str, Form(max_length=1000)],
    effect: Annotated[str, Form()] = "allow",
    scope: Annotated[str, Form()] = "global",
    ref: Annotated[str, Form()] = "",
    acknowledge_risk: Annotated[bool, Form()] = False,
) -> Response:
    """Save a rule (refused with the reason if Claude Code would ignore it or it is malformed)."""
    saved = ws.rules.add(
        rule, effect, scope=scope, ref=blank_to_none(ref), acknowledged=acknowledge_risk
    )
    return _section(ws, f"Saved {saved.effect} rule {saved.text} ({saved.scope}).")


@router.post("/ui/permissions/default", dependencies=OwnerOnly)
def set_default(ws: WorkspaceDep, mode: Annotated[str, Form()]) -> Response:
    """Choose what a call no rule decides gets: Claude Code's defaults, or a person."""
    chosen = ws.permission_defaults.set_mode(mode)
    said = "Claude Code's defaults" if chosen == "claude-code" else "asking for every call"
    return _section(ws, f"Saved: calls no rule decides now follow {said}.")


@router.post("/ui/rules/{rule_id}/delete", dependencies=OwnerOnly)
def delete_rule(rule_id: str, ws: WorkspaceDep) -> Response:
    """Delete a rule."""
    removed = ws.rules.remove(rule_id)
    return _section(ws, f"Deleted {removed.effect} rule {removed.text}.")


@router.post("/ui/presets/{name}/apply", dependencies=OwnerOnly)
def apply_preset(
    name: str, ws: WorkspaceDep, acknowledge_risk: Annotated[bool, Form()] = False
) -> Response:
    """Apply a preset everywhere."""
    added = ws.rules.apply_preset(name, acknowledged=acknowledge_risk)
    return _section(ws, f"Applied {name}: {len(added)} rule(s) added.")


@router.post("/ui/presets/{name}/remove", dependencies=OwnerOnly)
def remove_preset(name: str, ws: WorkspaceDep) -> Response:
    """Remove a preset's own rules."""
    removed = ws.rules.remove_preset(name)
    return _section(ws, f"Removed {name}: {removed} rule(s) deleted; other rules stay.")


@router.post("/ui/rules/import", dependencies=OwnerOnly)
def import_rules(
    ws: WorkspaceDep,
    path: Annotated[str, Form()],
    scope: Annotated[str, Form()] = "global",
    ref: Annotated[str, Form()] = "",
    acknowledge_risk: Annotated[bool, Form()] = False,
) -> Response:
    """Import a Claude Code settings file; refused entries are listed with the reason."""
    result = ws.rules.import_file(
        path, scope=scope, ref=blank_to_none(ref), acknowledged=acknowledge_risk
    )
    details = [f"refused {i.effect} `{i.text}`: {i.note}" for i in result.report.refused]
    details += list(result.report.warnings)
    message = (
        f"Imported {len(result.added)} rule(s) from {result.report.path}"
        f" ({len(result.already)} already saved)."
    )
    return _section(ws, message, details)


@router.post("/ui/rules/export", dependencies=OwnerOnly)
def export_rules(
    ws: WorkspaceDep,
    path: Annotated[str, Form()],
    scope: Annotated[str, Form()] = "global",
    ref: Annotated[str, Form()] = "",
) -> Response:
    """Merge one scope's rules into a Claude Code settings file."""
    result = ws.rules.export_file(path, scope=scope, ref=blank_to_none(ref))
    details = [f"skipped `{rule.text}`: {why}" for rule, why in result.skipped]
    return _section(ws, f"Exported {len(result.exported)} rule(s) to {path}.", details)
