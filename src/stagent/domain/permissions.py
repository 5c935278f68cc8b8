"""Permission rules in Claude Code's syntax, and how one rule matches one tool call. Pure.

A rule is ``Tool`` or ``Tool(specifier)`` with an effect (allow, deny, ask) and a scope (one task,
one project, everywhere). The forms follow Claude Code's ``settings.json`` permissions:

- ``Bash(npm run test *)``, ``Bash(* --version)``, ``Bash(git * main)``; a trailing `` *`` keeps a
  word boundary (``Bash(ls *)`` matches ``ls -la``, not ``lsof``); legacy ``Bash(npm run test:*)``;
  ``Bash(*)`` is ``Bash``. Compound commands are split; wrappers (``timeout``, ``nice``...) are
  stripped before matching.
- ``Read(...)`` / ``Edit(...)`` path rules with the anchors ``//abs``, ``~/home``, ``/project``
  and ``./cwd`` and gitignore globs. ``Edit`` rules cover Write, MultiEdit and NotebookEdit; a Read
  deny (or ask) also covers them.
- ``WebFetch(domain:example.com)``, ``WebFetch(domain:*.example.com)``.
- ``mcp__server``, ``mcp__server__*``, ``mcp__server__tool``, ``mcp__github__get_*``.
- Deny/ask only: tool-name globs (``*``, ``mcp__*``) and input-parameter rules
  (``Agent(model:opus)``, ``Bash(run_in_background:true)``). ``Agent(Explore)`` names a subagent.

Policy-level evaluation (deny beats ask beats allow, scopes, AskUserQuestion) is in
`stagent.governance.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol, get_args

from stagent.domain._rule_match import applies_to_tool, call_subjects, compile_matcher
from stagent.domain._rule_syntax import Effect, ParsedRule, RuleKind, parse_rule
from stagent.domain.errors import ValidationError

__all__ = [
    "Effect",
    "MatchContext",
    "ParsedRule",
    "PermissionRule",
    "RuleKind",
    "Scope",
    "ToolCall",
    "ToolCallLike",
    "ToolPolicy",
    "parse_rule",
]

Scope = Literal["task", "project", "global"]
EFFECTS: tuple[Effect, ...] = get_args(Effect)
SCOPES: tuple[Scope, ...] = get_args(Scope)


class ToolCallLike(Protocol):
    """Anything with a tool name and an input (a `ToolCall`, a runtime's ``PermissionRequest``)."""

    @property
    def tool(self) -> str:
        """Claude Code's tool name."""
        ...

    @property
    def input(self) -> Mapping[str, Any]:
        """The tool's input."""
        ...


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call to decide: Claude Code's tool name and its input."""

    tool: str
    input: Mapping[str, Any] = field(default_factory=lambda: {})


@dataclass(frozen=True, slots=True)
class MatchContext:
    """Where a call happens: what path rules resolve against, and which task and project ask."""

    cwd: str
    """The task's working directory (``./path`` and bare relative rules, relative inputs)."""
    home: str
    """The user's home directory (``~/`` rules and inputs)."""
    project_root: str | None = None
    settings_dir: str | None = None
    """The directory ``/path`` rules are relative to; defaults to the project root, then cwd."""
    task_id: str | None = None
    project_id: str | None = None

    def __post_init__(self) -> None:
        paths = {
            "cwd": self.cwd,
            "home": self.home,
            "project_root": self.project_root,
            "settings_dir": self.settings_dir,
        }
        for name, value in paths.items():
            if value is not None and not value.startswith("/"):
                raise ValidationError(
                    f"MatchContext.{name} must be an absolute path (got '{value}')."
                )


@lru_cache(maxsize=4096)
def _parse(text: str, effect: Effect) -> ParsedRule:
    return parse_rule(text, effect)


@dataclass(frozen=True, slots=True)
class PermissionRule:
    """One saved rule. Constructing it validates it: a refused form raises `ValidationError`."""

    tool: str
    specifier: str | None = None
    effect: Effect = "allow"
    scope: Scope = "global"
    scope_ref: str | None = None
    """The task id for scope ``task``, the project id for scope ``project``, else None."""
    source: str = "user"
    """Where it came from: ``user``, ``preset:<name>``, ``profile:<id>``, ``import:<path>``."""
    id: str | None = None

    def __post_init__(self) -> None:
        if self.effect not in EFFECTS:
            raise ValidationError(
                f"Rule `{self.text}`: effect '{self.effect}' is not one of allow, deny, ask."
            )
        _check_scope(self.text, self.scope, self.scope_ref)
        parsed = _parse(self.text, self.effect)
        object.__setattr__(self, "tool", parsed.tool)
        object.__setattr__(self, "specifier", parsed.specifier)

    @classmethod
    def from_text(
        cls,
        text: str,
        effect: Effect = "allow",
        *,
        scope: Scope = "global",
        scope_ref: str | None = None,
        source: str = "user",
        id: str | None = None,
    ) -> PermissionRule:
        """Parse ``text`` (``Bash(git status *)``) into a validated rule."""
        parsed = parse_rule(text, effect)
        return cls(parsed.tool, parsed.specifier, effect, scope, scope_ref, source, id)

    @property
    def text(self) -> str:
        """The rule in Claude Code's syntax."""
        return self.tool if self.specifier is None else f"{self.tool}({self.specifier})"

    @property
    def parsed(self) -> ParsedRule:
        """The parsed form (its kind says what sort of rule it is)."""
        return _parse(self.text, self.effect)

    @property
    def key(self) -> tuple[str, Effect, Scope, str | None]:
        """What makes two rules the same rule, whatever their source and id."""
        return (self.text, self.effect, self.scope, self.scope_ref)

    def label(self) -> str:
        """How the audit trail names the rule, as a person knows it (no id): its scope, text
        and where it came from: ``rule `Bash(ls *)```, ``project rule `Edit(./*)```,
        ``rule `Read` (preset read-only)``."""
        origin, _, name = self.source.partition(":")
        if origin == "profile":
            return f"profile {name} policy `{self.text}`"
        scope = "" if self.scope == "global" else f"{self.scope} "
        tail = {"preset": f" (preset {name})", "import": " (imported)"}.get(origin, "")
        return f"{scope}rule `{self.text}`{tail}"

    def applies_in(self, ctx: MatchContext) -> bool:
        """True if the rule's scope covers the task and project of ``ctx``."""
        if self.scope == "task":
            return ctx.task_id is not None and ctx.task_id == self.scope_ref
        if self.scope == "project":
            return ctx.project_id is not None and ctx.project_id == self.scope_ref
        return True

    def applies_to_tool(self, tool: str) -> bool:
        """True if the rule is about calls of ``tool`` at all (input not considered)."""
        return applies_to_tool(self.parsed, self.effect, tool)

    def matches_subject(self, call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
        """True if the rule matches one subject (a simple command, a path) of ``call``."""
        if not self.applies_to_tool(call.tool):
            return False
        return compile_matcher(self.parsed, self.effect)(call, subject, ctx)

    def matches(self, call: ToolCallLike, ctx: MatchContext) -> bool:
        """True if this rule, on its own, matches ``call`` (scope not considered).

        A deny or ask rule matches if it matches any part of the call (any simple command of a
        compound Bash line, any path); an allow rule only if it matches every part.
        """
        if not self.applies_to_tool(call.tool):
            return False
        subjects = call_subjects(call, ctx)
        if self.effect == "allow":
            return all(self.matches_subject(call, s, ctx) for s in subjects.required)
        every = subjects.required + subjects.extra
        return any(self.matches_subject(call, s, ctx) for s in every)


def _check_scope(text: str, scope: str, scope_ref: str | None) -> None:
    if scope not in SCOPES:
        raise ValidationError(
            f"Rule `{text}`: scope '{scope}' is not one of task, project, global."
        )
    if scope == "global" and scope_ref is not None:
        raise ValidationError(
            f"Rule `{text}`: a global rule has no scope reference (got '{scope_ref}')."
        )
    if scope != "global" and not scope_ref:
        raise ValidationError(
            f"Rule `{text}`: a {scope}-scoped rule needs the {scope} id it applies to."
        )


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """A profile's tool policy: entries in rule syntax that are allowed or denied outright."""

    profile_id: str
    auto_approve: tuple[str, ...] = ()
    auto_deny: tuple[str, ...] = ()
    rules: tuple[PermissionRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        source = f"profile:{self.profile_id}"
        built: list[PermissionRule] = []
        lists: tuple[tuple[Effect, tuple[str, ...]], ...] = (
            ("deny", self.auto_deny),
            ("allow", self.auto_approve),
        )
        for effect, entries in lists:
            for entry in entries:
                try:
                    built.append(PermissionRule.from_text(entry, effect, source=source))
                except ValidationError as exc:
                    raise ValidationError(
                        f"Profile '{self.profile_id}' tool policy: {exc.message}", hint=exc.hint
                    ) from exc
        object.__setattr__(self, "rules", tuple(built))
