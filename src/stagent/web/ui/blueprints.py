"""The Blueprints pages: gallery, and a blueprint with a form generated from its variables
and a preview of the resolved steps. Running is not offered: workflows are not built yet,
and the page says so."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from stagent.domain.errors import StagentError
from stagent.web.deps import WorkspaceDep
from stagent.web.ui.rendering import fragment, page
from stagent.web.ui.templating import render

router = APIRouter()

PATTERN_LABELS = {
    "sequence": "Sequence",
    "parallel": "Parallel fork/join",
    "checkpoint": "Checkpoint",
    "planner-executor": "Planner-executor",
    "loop": "Autonomous loop",
    "swarm": "Swarm",
}


@router.get("/blueprints")
def blueprints_page(request: Request, ws: WorkspaceDep) -> Response:
    """The gallery, grouped by pattern order."""
    catalog = ws.profiles.blueprints()
    return page(
        request,
        "pages/blueprints.html",
        active="blueprints",
        title="Blueprints",
        blueprints=catalog.all(),
        scopes={b.id: catalog.scope_of(b.id) for b in catalog.all()},
        problems=catalog.problems,
        pattern_labels=PATTERN_LABELS,
    )


@router.get("/blueprints/{blueprint_id}")
def blueprint_page(request: Request, blueprint_id: str, ws: WorkspaceDep) -> Response:
    """One blueprint: its variable form, its step templates, the preview area."""
    catalog = ws.profiles.blueprints()
    blueprint = catalog.get(blueprint_id)
    profiles = ws.profiles.catalog().profiles
    return page(
        request,
        "pages/blueprint.html",
        active="blueprints",
        title=blueprint.name,
        b=blueprint,
        scope=catalog.scope_of(blueprint_id),
        pattern_label=PATTERN_LABELS[blueprint.pattern],
        profile_names={pid: p.spec.name for pid, p in profiles.items()},
    )


@router.get("/ui/blueprints/{blueprint_id}/preview")
def preview(request: Request, blueprint_id: str, ws: WorkspaceDep) -> Response:
    """The resolved steps for the form's values (a read: nothing is created or run).

    A checkbox sends a hidden ``false`` then ``true`` when ticked, so the last value wins.
    """
    values = dict(request.query_params.multi_items())
    try:
        instance = ws.profiles.instantiate(blueprint_id, values)
    except StagentError as exc:
        return fragment(
            render("fragments/blueprint_preview.html", error=exc.to_dict(), instance=None)
        )
    return fragment(
        render(
            "fragments/blueprint_preview.html",
            error=None,
            instance=instance,
            pattern_label=PATTERN_LABELS[instance.definition.pattern],
        )
    )
