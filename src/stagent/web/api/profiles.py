"""``/api/v1/profiles`` and ``/api/v1/blueprints``: the catalogs, the router, resolving a
blueprint into a workflow definition (a preview) and running one as a workflow. The shapes are
`stagent.schemas.profiles` (a run answers with `stagent.schemas.workflows.WorkflowSchema`), the
same as ``stagent profile|blueprint ... --json``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, status
from pydantic import BaseModel, ConfigDict, Field

from stagent.schemas.base import text_schema
from stagent.schemas.profiles import (
    BlueprintSummary,
    ProfileDetail,
    ProfileSummary,
    RouteOut,
    blueprint_detail,
    blueprint_summary,
    profile_detail,
    profile_summary,
    resolved_out,
    route_out,
)
from stagent.schemas.workflows import WorkflowSchema
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import api_router

router = api_router(tags=["profiles"])


@router.get("/profiles", response_model=ListOut[ProfileSummary])
def list_profiles(
    ws: WorkspaceDep,
    q: Annotated[str, Query(max_length=200)] = "",
    domain: Annotated[str | None, Query(max_length=20)] = None,
    runtime: Annotated[str | None, Query(max_length=20)] = None,
) -> ListOut[ProfileSummary]:
    """Profiles from every scope, filtered by text, domain and runtime."""
    catalog = ws.profiles.catalog()
    found = catalog.search(q, domain=domain, runtime=runtime)
    return list_of([profile_summary(p, catalog.shadowed.get(p.id)) for p in found])


@router.get("/profiles/route", response_model=RouteOut)
def route_task(
    ws: WorkspaceDep,
    title: Annotated[str, Query(min_length=1, max_length=500)],
    description: Annotated[str, Query(max_length=20_000)] = "",
    runtime: Annotated[str | None, Query(max_length=20)] = None,
) -> RouteOut:
    """The profile the router picks for a task, with the matched tags and score."""
    return route_out(ws.profiles.route(title, description, runtime))


@router.get("/profiles/{profile_id}", response_model=ProfileDetail)
def get_profile(profile_id: str, ws: WorkspaceDep) -> ProfileDetail:
    """One profile: what it sets per runtime, smoke tests, last results, instructions."""
    service = ws.profiles
    profile = service.get(profile_id)
    return profile_detail(
        profile, service.catalog().shadowed.get(profile_id), service.results.runs(profile_id)
    )


@router.get("/blueprints", response_model=ListOut[BlueprintSummary])
def list_blueprints(ws: WorkspaceDep) -> ListOut[BlueprintSummary]:
    """Built-in and user blueprints."""
    catalog = ws.profiles.blueprints()
    return list_of([blueprint_summary(b, catalog.scope_of(b.id)) for b in catalog.all()])


@router.get("/blueprints/{blueprint_id}")
def get_blueprint(blueprint_id: str, ws: WorkspaceDep) -> dict[str, Any]:
    """A blueprint's variables, step templates and pattern settings."""
    catalog = ws.profiles.blueprints()
    return blueprint_detail(catalog.get(blueprint_id), catalog.scope_of(blueprint_id))


class ResolveIn(BaseModel):
    """Variable values by id (text, as a form would send them, or typed values)."""

    model_config = ConfigDict(extra="forbid")

    # Text holds no NUL byte and no bidi control (a step's prompt is stored as a task's text).
    variables: dict[str, Annotated[str, text_schema()] | int | float | bool | None] = Field(
        default_factory=lambda: {}
    )
    runtime: str | None = Field(
        default=None, max_length=40, description="runtime of every step that names none"
    )


@router.post("/blueprints/{blueprint_id}/resolve")
def resolve_blueprint(blueprint_id: str, body: ResolveIn, ws: WorkspaceDep) -> dict[str, Any]:
    """Validate the variables and resolve the steps into a workflow definition (a preview:
    nothing is stored or run)."""
    return resolved_out(ws.profiles.instantiate(blueprint_id, body.variables, runtime=body.runtime))


class RunIn(ResolveIn):
    """Variable values, and where the steps run."""

    project: str | None = Field(default=None, max_length=200, description="project id or name")


@router.post(
    "/blueprints/{blueprint_id}/run",
    status_code=status.HTTP_201_CREATED,
    response_model=WorkflowSchema,
)
def run_blueprint(blueprint_id: str, body: RunIn, ws: WorkspaceDep) -> WorkflowSchema:
    """Instantiate the blueprint and start it as a workflow (its definition keeps the
    blueprint's id, version and variables)."""
    workflow = ws.run_blueprint(
        blueprint_id, body.variables, runtime=body.runtime, project=body.project
    )
    return WorkflowSchema.of(workflow, ws.workflows.step_costs(workflow))
