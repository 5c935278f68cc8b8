"""``/api/v1/profiles`` and ``/api/v1/blueprints``: the catalogs, the router, and resolving a
blueprint into a workflow definition (workflows are not built yet, so nothing runs). The shapes
are `stagent.schemas.profiles`, the same as ``stagent profile|blueprint ... --json``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

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
from stagent.web.api.models import ListOut, list_of
from stagent.web.deps import WorkspaceDep

router = APIRouter(tags=["profiles"])


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

    variables: dict[str, str | int | float | bool | None] = Field(default_factory=lambda: {})


@router.post("/blueprints/{blueprint_id}/resolve")
def resolve_blueprint(blueprint_id: str, body: ResolveIn, ws: WorkspaceDep) -> dict[str, Any]:
    """Validate the variables and resolve the steps into a workflow definition (not run)."""
    return resolved_out(ws.profiles.instantiate(blueprint_id, body.variables))
