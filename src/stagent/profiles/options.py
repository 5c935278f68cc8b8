"""What a profile puts into a run: the runtime options each runtime reads.

`run_options` is the one translation from a profile to a task's run options (today the task's
``runtime_config`` keys the executor, the runtimes, the budget guard and the gate read):

- ``instructions`` and ``model`` (claude, codex, anthropic);
- ``tools`` (claude: the CLI's tool set) and ``tool_policy`` (the gate, every runtime with tools):
  the profile's ``canUseToolPolicy`` plus a deny for every gated tool its ``allowedTools`` leaves
  out, so a researcher cannot write files whichever runtime runs it;
- ``sandbox: read-only`` on codex when the tools include no file-writing tool;
- ``max_turns``, ``max_budget_usd``, ``mcp_servers`` (claude).

On the ``scripted`` runtime (simulated, no model) only the tool policy applies.
"""

from __future__ import annotations

from typing import Any

from stagent.domain.errors import ValidationError
from stagent.profiles.models import EffectiveOptions, Profile
from stagent.profiles.support import (
    ASK_USER_QUESTION,
    WRITE_TOOLS,
    denied_by_tool_list,
)

SIMULATED_RUNTIMES = frozenset({"scripted"})
PROFILE_KEYS = (
    "instructions",
    "model",
    "tools",
    "tool_policy",
    "sandbox",
    "max_turns",
    "max_budget_usd",
    "mcp_servers",
)
"""Every ``runtime_config`` key a profile may set (cleared before a profile is applied again)."""


def check_runtime(profile: Profile, runtime: str) -> None:
    """Raise unless ``profile`` may run on ``runtime`` (any profile may run simulated)."""
    if runtime in SIMULATED_RUNTIMES or profile.supports(runtime):
        return
    raise ValidationError(
        f"profile: {profile.id} does not support the {runtime} runtime "
        f"(it supports {', '.join(profile.runtimes)})",
        hint="pick one of those runtimes, or another profile",
    )


def tool_policy(opts: EffectiveOptions) -> dict[str, list[str]]:
    """The gate's policy: approvals as written; denials plus the tools the list leaves out."""
    deny = list(opts.auto_deny)
    if opts.allowed_tools is not None:
        deny += [t for t in denied_by_tool_list(opts.allowed_tools) if t not in deny]
    return {"auto_approve": list(opts.auto_approve), "auto_deny": deny}


def run_options(profile: Profile, runtime: str) -> dict[str, Any]:
    """The runtime options ``profile`` gives a run on ``runtime``."""
    check_runtime(profile, runtime)
    effective = profile.runtimes[0] if runtime in SIMULATED_RUNTIMES else runtime
    opts = profile.options(effective)  # pyright: ignore[reportArgumentType]
    policy = tool_policy(opts)
    out: dict[str, Any] = {}
    if policy["auto_approve"] or policy["auto_deny"]:
        out["tool_policy"] = policy
    if runtime in SIMULATED_RUNTIMES:
        return out
    out["instructions"] = opts.instructions
    if opts.model:
        out["model"] = opts.model
    if runtime == "claude":
        if opts.allowed_tools is not None:
            out["tools"] = [*opts.allowed_tools, ASK_USER_QUESTION]
        for key in ("max_turns", "max_budget_usd", "mcp_servers"):
            value = getattr(opts, key)
            if value is not None:
                out[key] = value
    if (
        runtime == "codex"
        and opts.allowed_tools is not None
        and not WRITE_TOOLS & set(opts.allowed_tools)
    ):
        out["sandbox"] = "read-only"
    return out


def apply_profile(config: dict[str, Any], profile: Profile, runtime: str) -> dict[str, Any]:
    """``config`` with the previous profile's keys cleared and ``profile``'s options set."""
    previous = config.get("_profile")
    stale = previous.get("keys", []) if isinstance(previous, dict) else []  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    kept = {k: v for k, v in config.items() if k not in stale and k != "_profile"}  # pyright: ignore[reportUnknownVariableType]
    options = run_options(profile, runtime)
    stamp = {
        "id": profile.id,
        "version": profile.spec.version,
        "scope": profile.scope,
        "keys": sorted(options),
    }
    return {**kept, **options, "_profile": stamp}


def clear_profile(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` without what a previously applied profile put there."""
    previous = config.get("_profile")
    stale = previous.get("keys", []) if isinstance(previous, dict) else []  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return {k: v for k, v in config.items() if k not in stale and k != "_profile"}  # pyright: ignore[reportUnknownVariableType]
