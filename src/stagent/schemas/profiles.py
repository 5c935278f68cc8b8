"""Face-neutral shapes of profiles, blueprints and router decisions: the API and every
``--json`` return these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from stagent.profiles.blueprints import Blueprint
from stagent.profiles.instantiate import Instance
from stagent.profiles.models import Profile
from stagent.profiles.options import tool_policy
from stagent.profiles.router import Route
from stagent.profiles.support import FIELD_SUPPORT

TOOL_RUNTIMES = FIELD_SUPPORT["allowedTools"]


class ProfileSummary(BaseModel):
    """A profile in a list."""

    id: str
    name: str
    description: str
    domain: str
    tags: list[str]
    runtimes: list[str]
    scope: str
    version: str
    tools: list[str] | None
    """The tools it may use; None means every tool (decided by the rules and the inbox)."""
    tests: int
    overrides: list[str]
    """Lower scopes whose profile of the same id this one replaces."""


class RuntimeOptions(BaseModel):
    """What the profile sets on one runtime."""

    runtime: str
    model: str | None
    tools: list[str] | None
    auto_approve: list[str]
    auto_deny: list[str]
    max_turns: int | None
    max_budget_usd: float | None
    mcp_servers: list[str]
    instructions_overridden: bool
    runs_tools: bool
    """False on a runtime that makes no tool calls (the anthropic runtime): no policy applies."""


class SmokeTestOut(BaseModel):
    """A smoke test."""

    task: str
    expected_keywords: list[str]


class ProfileDetail(ProfileSummary):
    """A profile with everything it sets."""

    instructions: str
    path: str
    author: str | None
    source: str | None
    options: list[RuntimeOptions]
    smoke_tests: list[SmokeTestOut]
    last_results: list[dict[str, Any]]


def profile_summary(profile: Profile, overrides: Sequence[str] | None = None) -> ProfileSummary:
    """The list shape of a profile."""
    spec = profile.spec
    return ProfileSummary(
        id=profile.id,
        name=spec.name,
        description=profile.skill.description,
        domain=spec.domain,
        tags=list(spec.tags),
        runtimes=list(profile.runtimes),
        scope=profile.scope,
        version=spec.version,
        tools=list(spec.allowed_tools) if spec.allowed_tools is not None else None,
        tests=len(profile.tests),
        overrides=list(overrides or []),
    )


def profile_detail(
    profile: Profile, overrides: Sequence[str] | None, last_results: list[dict[str, Any]]
) -> ProfileDetail:
    """The full shape of a profile."""
    options: list[RuntimeOptions] = []
    for runtime in profile.runtimes:
        opts = profile.options(runtime)
        runs_tools = runtime in TOOL_RUNTIMES
        nothing: dict[str, list[str]] = {"auto_approve": [], "auto_deny": []}
        policy = tool_policy(opts) if runs_tools else nothing
        tools = list(opts.allowed_tools) if opts.allowed_tools is not None else None
        options.append(
            RuntimeOptions(
                runtime=runtime,
                model=opts.model,
                tools=tools if runs_tools else [],
                auto_approve=policy["auto_approve"],
                auto_deny=policy["auto_deny"],
                max_turns=opts.max_turns,
                max_budget_usd=opts.max_budget_usd,
                mcp_servers=sorted(opts.mcp_servers or {}),
                instructions_overridden=opts.instructions != profile.instructions,
                runs_tools=runs_tools,
            )
        )
    base = profile_summary(profile, overrides)
    return ProfileDetail(
        **base.model_dump(),
        instructions=profile.instructions,
        path=profile.path,
        author=profile.spec.author,
        source=profile.spec.source,
        options=options,
        smoke_tests=[
            SmokeTestOut(task=t.task, expected_keywords=list(t.expected_keywords))
            for t in profile.tests
        ],
        last_results=last_results,
    )


class BlueprintSummary(BaseModel):
    """A blueprint in a list."""

    id: str
    name: str
    description: str
    pattern: str
    domain: str
    tags: list[str]
    scope: str
    version: str
    variables: int
    steps: int


def blueprint_summary(blueprint: Blueprint, scope: str) -> BlueprintSummary:
    """The list shape of a blueprint."""
    return BlueprintSummary(
        id=blueprint.id,
        name=blueprint.name,
        description=blueprint.description,
        pattern=blueprint.pattern,
        domain=blueprint.domain,
        tags=list(blueprint.tags),
        scope=scope,
        version=blueprint.version,
        variables=len(blueprint.variables),
        steps=len(blueprint.steps),
    )


def blueprint_detail(blueprint: Blueprint, scope: str) -> dict[str, Any]:
    """The full shape of a blueprint: its summary, variables and step templates."""
    return {
        **blueprint_summary(blueprint, scope).model_dump(),
        "variables": [v.model_dump(exclude_none=True) for v in blueprint.variables],
        "steps": [s.model_dump(exclude_none=True) for s in blueprint.steps],
        "settings": {
            k: getattr(blueprint, k)
            for k in ("parallel", "loop", "swarm")
            if getattr(blueprint, k) is not None
        },
    }


class RouteOut(BaseModel):
    """The router's decision."""

    profile_id: str
    score: int
    matched: list[str]
    fallback: bool
    reason: str


def route_out(decision: Route) -> RouteOut:
    """The shape of a router decision."""
    return RouteOut(
        profile_id=decision.profile_id,
        score=decision.score,
        matched=list(decision.matched),
        fallback=decision.fallback,
        reason=decision.reason,
    )


PREVIEW_ONLY = (
    "A preview: the blueprint was validated and its steps resolved; nothing was stored or run."
)


def resolved_out(instance: Instance) -> dict[str, Any]:
    """A resolved blueprint (a preview): the workflow definition, the skipped steps, and that
    nothing ran."""
    return {
        "ran": False,
        "reason": PREVIEW_ONLY,
        "definition": instance.definition.model_dump(mode="json", exclude_none=True),
        "skipped": list(instance.skipped),
    }
