"""Trust presets: named, layered sets of allow rules (read-only, git-safe, full-auto).

Every rule a preset adds carries ``source="preset:<name>"``. Applying a preset adds its rules
that are not already there; removing it drops only rules with its own source, so a rule the user
added, or another preset also added, stays. Rules without a preset source are *custom*.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import PermissionRule, Scope

PRESET_SOURCE_PREFIX = "preset:"

READ_ONLY_RULES: tuple[str, ...] = (
    "Read",
    "Glob",
    "Grep",
    "LS",
    "NotebookRead",
    # Shell reads, for runtimes (Codex) that read files through the shell. Output redirections
    # are never covered by these rules, so `cat a > b` still asks.
    "Bash(ls *)",
    "Bash(cat *)",
    "Bash(head *)",
    "Bash(tail *)",
    "Bash(wc *)",
    "Bash(grep *)",
    "Bash(pwd)",
    "Bash(which *)",
    "Bash(stat *)",
    "Bash(diff *)",
)
GIT_READ_RULES: tuple[str, ...] = (
    "Bash(git status *)",
    "Bash(git diff *)",
    "Bash(git log *)",
    "Bash(git show *)",
    "Bash(git blame *)",
    "Bash(git ls-files *)",
    "Bash(git rev-parse *)",
    "Bash(git describe *)",
    "Bash(git branch)",
    "Bash(git branch --list *)",
    "Bash(git branch --show-current)",
    "Bash(git remote -v)",
)
GIT_SAFE_RULES: tuple[str, ...] = (
    *READ_ONLY_RULES,
    "Edit",
    "Write",
    *GIT_READ_RULES,
    "Bash(git add *)",
    "Bash(git commit *)",
)
FULL_AUTO_RULES: tuple[str, ...] = (
    *GIT_SAFE_RULES,
    "Bash",
    "NotebookEdit",
    "WebFetch",
    "WebSearch",
)


@dataclass(frozen=True, slots=True)
class Preset:
    """A named set of allow rules."""

    name: str
    tier: str
    """The badge the UI shows while it is the highest active preset."""
    risk: Literal["low", "medium", "high"]
    description: str
    rules: tuple[str, ...]

    @property
    def source(self) -> str:
        """The ``source`` its rules carry."""
        return PRESET_SOURCE_PREFIX + self.name


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "read-only",
            "Observer",
            "low",
            "Read files and search; run read-only shell commands (ls, cat, grep...).",
            READ_ONLY_RULES,
        ),
        Preset(
            "git-safe",
            "Collaborator",
            "medium",
            "Read-only, plus edit files, read-only git, git add and git commit (never push).",
            GIT_SAFE_RULES,
        ),
        Preset(
            "full-auto",
            "Autonomous",
            "high",
            "Git-safe, plus any shell command, notebook edits, web fetch and web search.",
            FULL_AUTO_RULES,
        ),
    )
}
"""The presets, lowest trust first."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is a `ValidationError` listing the names."""
    try:
        return PRESETS[name]
    except KeyError:
        names = ", ".join(PRESETS)
        raise ValidationError(f"Unknown preset '{name}'.", hint=f"choose one of: {names}") from None


def preset_rules(
    name: str, *, scope: Scope = "global", scope_ref: str | None = None
) -> list[PermissionRule]:
    """The rules preset ``name`` adds, tagged with its source, at the given scope."""
    preset = get_preset(name)
    return [
        PermissionRule.from_text(
            text, "allow", scope=scope, scope_ref=scope_ref, source=preset.source
        )
        for text in preset.rules
    ]


def _identity(rule: PermissionRule) -> tuple[object, ...]:
    return (*rule.key, rule.source)


def apply_preset(
    existing: Sequence[PermissionRule],
    name: str,
    *,
    scope: Scope = "global",
    scope_ref: str | None = None,
) -> list[PermissionRule]:
    """``existing`` plus the preset's rules it does not have yet (idempotent)."""
    have = {_identity(r) for r in existing}
    added = preset_rules(name, scope=scope, scope_ref=scope_ref)
    return [*existing, *(r for r in added if _identity(r) not in have)]


def remove_preset(
    existing: Sequence[PermissionRule],
    name: str,
    *,
    scope: Scope = "global",
    scope_ref: str | None = None,
) -> list[PermissionRule]:
    """``existing`` without the preset's own rules at that scope; every other rule stays."""
    source = get_preset(name).source
    return [
        r
        for r in existing
        if not (r.source == source and r.scope == scope and r.scope_ref == scope_ref)
    ]


def active_presets(
    rules: Sequence[PermissionRule], *, scope: Scope = "global", scope_ref: str | None = None
) -> list[str]:
    """Names of the presets all of whose rules are present (with their source) at that scope."""
    have = {_identity(r) for r in rules}
    return [
        name
        for name in PRESETS
        if all(_identity(r) in have for r in preset_rules(name, scope=scope, scope_ref=scope_ref))
    ]


def custom_rules(rules: Sequence[PermissionRule]) -> list[PermissionRule]:
    """The rules no preset added (user, profile and imported rules)."""
    return [r for r in rules if not r.source.startswith(PRESET_SOURCE_PREFIX)]


def trust_tier(
    rules: Sequence[PermissionRule], *, scope: Scope = "global", scope_ref: str | None = None
) -> str:
    """The badge: the highest active preset's tier, else ``Custom``."""
    active = active_presets(rules, scope=scope, scope_ref=scope_ref)
    return PRESETS[active[-1]].tier if active else "Custom"
