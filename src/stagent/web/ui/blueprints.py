"""The Blueprints pages: gallery, and a blueprint with a form generated from its variables,
a preview of the resolved steps, and Run (the blueprint starts as a workflow)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from stagent.domain.errors import StagentError
from stagent.domain.workflow_runs import BUILT_PATTERNS
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.ui.rendering import fragment, page, redirect
from stagent.web.ui.templating import render

router = ui_router()

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
        built_patterns=BUILT_PATTERNS,
        unbuilt=[
            label.lower() for key, label in PATTERN_LABELS.items() if key not in BUILT_PATTERNS
        ],
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
        pattern_built=blueprint.pattern in BUILT_PATTERNS,
        profile_names={pid: p.spec.name for pid, p in profiles.items()},
        runtimes=ws.runtimes.all(),
        projects=ws.projects.list(),
    )


RUN_FIELDS = ("run.runtime", "run.project")
"""Form fields that are not variables (a variable id cannot contain a dot)."""


def _split(items: list[tuple[str, str]]) -> tuple[dict[str, str], dict[str, str]]:
    """The variables and the run settings of the form (the last value of a key wins)."""
    values = {k: v for k, v in items if "." not in k}
    settings = {k.removeprefix("run."): v for k, v in items if k in RUN_FIELDS and v}
    return values, settings


@router.post("/ui/blueprints/{blueprint_id}/run")
async def run(request: Request, blueprint_id: str, ws: WorkspaceDep) -> Response:
    """Start the blueprint as a workflow with the form's values, then show it among the
    workflows (a refusal is shown above the form)."""
    form = await request.form()
    values, settings = _split([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    workflow = ws.run_blueprint(
        blueprint_id, values, runtime=settings.get("runtime"), project=settings.get("project")
    )
    return redirect(f"/workflows/{workflow.id}")


@router.get("/ui/blueprints/{blueprint_id}/preview")
def preview(request: Request, blueprint_id: str, ws: WorkspaceDep) -> Response:
    """The resolved steps for the form's values (a read: nothing is created or run).

    A checkbox sends a hidden ``false`` then ``true`` when ticked, so the last value wins.
    """
    values, settings = _split(list(request.query_params.multi_items()))
    try:
        instance = ws.profiles.instantiate(blueprint_id, values, runtime=settings.get("runtime"))
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
