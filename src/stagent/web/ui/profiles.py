"""The Profiles pages: gallery (search, domain and runtime filters), detail (instructions,
policy per runtime, smoke tests and their last results), and create/edit for user profiles.

Saving or deleting a profile changes what agents may do without asking (its tool policy), so
it needs the person, like a permission rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from starlette.responses import Response

from stagent.domain.errors import NotFoundError
from stagent.profile_tests import refresh_smoke_results, start_smoke_tests
from stagent.profiles.catalog import ProfileCatalog
from stagent.profiles.models import Profile
from stagent.schemas.profiles import profile_detail
from stagent.web.deps import WorkspaceDep
from stagent.web.routers import ui_router
from stagent.web.security import request_is_owner, require_owner
from stagent.web.ui.rendering import fragment, page, redirect
from stagent.web.ui.templating import render
from stagent.workspace import Workspace

router = ui_router()
OwnerOnly = [Depends(require_owner)]
RUNTIME_CHOICES = ("claude", "codex", "anthropic")
DOMAIN_CHOICES = ("work", "personal")

NEW_SPEC = """id: my-profile
name: My Profile
version: 1.0.0
domain: work
tags: [example]
supportedRuntimes: [claude, codex]
allowedTools: [Read, Grep, Glob]
canUseToolPolicy:
  autoApprove: [Read, Grep, Glob]
tests:
  - task: Say what you do in one sentence.
    expectedKeywords: [I]
"""
NEW_SKILL = """---
name: my-profile
description: What this profile is for, in one sentence.
---

# My Profile

Who the agent is, how it works step by step, what it delivers, and what it must not do.
"""


@dataclass(frozen=True, slots=True)
class Chip:
    """One filter choice: its value ("" for all), label and how many profiles it would show."""

    value: str
    label: str
    count: int


def _chips(catalog: ProfileCatalog, q: str, domain: str, runtime: str) -> dict[str, Any]:
    """The domain and runtime choices, each counted with the search and the other filter."""
    by_domain = [("", "All")] + [(d, d.capitalize()) for d in DOMAIN_CHOICES]
    by_runtime = [("", "Any")] + [(r, r) for r in RUNTIME_CHOICES]
    return {
        "domain_chips": [
            Chip(v, label, len(catalog.search(q, domain=v or None, runtime=runtime or None)))
            for v, label in by_domain
        ],
        "runtime_chips": [
            Chip(v, label, len(catalog.search(q, domain=domain or None, runtime=v or None)))
            for v, label in by_runtime
        ],
    }


def _gallery(catalog: ProfileCatalog, q: str, domain: str, runtime: str) -> dict[str, Any]:
    found = catalog.search(q, domain=domain or None, runtime=runtime or None)
    return {
        "profiles": found,
        "total": len(catalog.all()),
        "q": q,
        "domain": domain,
        "runtime": runtime,
        "problems": catalog.problems,
        **_chips(catalog, q, domain, runtime),
    }


@router.get("/profiles")
def profiles_page(
    request: Request,
    ws: WorkspaceDep,
    q: Annotated[str, Query(max_length=200)] = "",
    domain: Annotated[str, Query(max_length=20)] = "",
    runtime: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The gallery (a plain GET form, refreshed in place as you type)."""
    return page(
        request,
        "pages/profiles.html",
        active="profiles",
        title="Profiles",
        owner=request_is_owner(request),
        **_gallery(ws.profiles.catalog(), q, domain, runtime),
    )


@router.get("/ui/profiles/gallery")
def gallery_fragment(
    ws: WorkspaceDep,
    q: Annotated[str, Query(max_length=200)] = "",
    domain: Annotated[str, Query(max_length=20)] = "",
    runtime: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Just the cards, for the search box and filters."""
    html = render(
        "fragments/profile_gallery.html", **_gallery(ws.profiles.catalog(), q, domain, runtime)
    )
    return fragment(html)


@router.get("/profiles/new")
def new_profile(request: Request, ws: WorkspaceDep, copy: Annotated[str, Query()] = "") -> Response:
    """The editor for a new user profile (optionally starting from another profile)."""
    spec, skill = ws.profiles.source_text(copy) if copy else (NEW_SPEC, NEW_SKILL)
    return page(
        request,
        "pages/profile_edit.html",
        active="profiles",
        title="New profile",
        owner=request_is_owner(request),
        editing=None,
        copy_of=copy,
        spec=spec,
        skill=skill,
    )


@router.get("/profiles/{profile_id}")
def profile_page(request: Request, profile_id: str, ws: WorkspaceDep) -> Response:
    """One profile: what it sets on each runtime, its tests and last results, instructions."""
    service = ws.profiles
    profile = service.get(profile_id)
    runs = refresh_smoke_results(ws, profile_id)
    detail = profile_detail(profile, service.catalog().shadowed.get(profile_id), runs)
    return page(
        request,
        "pages/profile.html",
        active="profiles",
        title=profile.spec.name,
        owner=request_is_owner(request),
        p=detail,
        editable=profile.scope == "user",
    )


@router.get("/profiles/{profile_id}/edit")
def edit_profile(request: Request, profile_id: str, ws: WorkspaceDep) -> Response:
    """The editor for a user profile."""
    profile = _user_profile(ws, profile_id)
    spec, skill = ws.profiles.source_text(profile.id)
    return page(
        request,
        "pages/profile_edit.html",
        active="profiles",
        title=f"Edit {profile.spec.name}",
        owner=request_is_owner(request),
        editing=profile.id,
        copy_of="",
        spec=spec,
        skill=skill,
    )


def _user_profile(ws: Workspace, profile_id: str) -> Profile:
    profile = ws.profiles.get(profile_id)
    if profile.scope != "user":
        raise NotFoundError(
            f"{profile_id} is a {profile.scope} profile; only user profiles are edited here",
            hint="customize it: that saves a user copy with the same id, which then overrides it",
        )
    return profile


@router.post("/ui/profiles", dependencies=OwnerOnly)
def save_profile(
    ws: WorkspaceDep,
    spec: Annotated[str, Form(max_length=100_000)],
    skill: Annotated[str, Form(max_length=200_000)],
    editing: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Validate and save a user profile; errors name the file, field and line."""
    profile = ws.profiles.save_user(spec, skill, original_id=editing or None)
    return redirect(f"/profiles/{profile.id}")


@router.post("/ui/profiles/{profile_id}/delete", dependencies=OwnerOnly)
def delete_profile(profile_id: str, ws: WorkspaceDep) -> Response:
    """Delete a user profile (a built-in it overrode comes back)."""
    ws.profiles.delete_user(profile_id)
    return redirect("/profiles")


def _results(ws: Workspace, profile_id: str) -> Response:
    runs = refresh_smoke_results(ws, profile_id)
    return fragment(render("fragments/profile_results.html", runs=runs, profile_id=profile_id))


@router.get("/ui/profiles/{profile_id}/results")
def results_fragment(profile_id: str, ws: WorkspaceDep) -> Response:
    """The last results (polled while a run is pending; pending runs are judged when done)."""
    ws.profiles.get(profile_id)
    return _results(ws, profile_id)


@router.post("/ui/profiles/{profile_id}/test", dependencies=OwnerOnly)
def run_smoke_tests_now(
    profile_id: str, ws: WorkspaceDep, runtime: Annotated[str, Form(max_length=20)]
) -> Response:
    """Queue the profile's smoke tests as tasks on ``runtime`` (they call the model)."""
    start_smoke_tests(ws, profile_id, runtime)
    return _results(ws, profile_id)
