"""A profile: who does a task (instructions, tools, runtime, model, limits) as pydantic models.

On disk a profile is a Claude Code skill folder: ``SKILL.md`` (front matter ``name`` and
``description``; the body is the instructions) plus ``profile.yaml`` (`ProfileSpec`, in the
original Stagent's camelCase keys; snake_case works too). `Profile` is the two joined, with
where it was loaded from.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import ToolPolicy as DomainToolPolicy
from stagent.domain.workflow_hints import rule
from stagent.profiles.support import RuntimeName, known_tool, runtime_name

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
Scope = Literal["builtin", "user", "project"]
Domain = Literal["work", "personal"]


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class ToolPolicySpec(_Spec):
    """Tool calls decided without asking: entries in Claude Code's rule syntax."""

    auto_approve: tuple[str, ...] = ()
    auto_deny: tuple[str, ...] = ()

    @field_validator("auto_approve", "auto_deny")
    @classmethod
    def _rules_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                DomainToolPolicy("check", (entry,), ())
            except ValidationError as exc:
                raise rule(
                    exc.message.split(": ", 1)[-1],
                    exc.hint or "write a rule as Tool or Tool(specifier), e.g. Bash(git status:*)",
                ) from None
        return value

    @property
    def empty(self) -> bool:
        """True if the policy decides nothing."""
        return not (self.auto_approve or self.auto_deny)


class SmokeTest(_Spec):
    """A behavioural check: the answer to ``task`` must contain every keyword (any case)."""

    task: str = Field(min_length=1)
    expected_keywords: tuple[str, ...] = Field(min_length=1)


def _check_tools(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    for tool in value or ():
        if not known_tool(tool):
            raise rule(
                f"{tool!r} is not a Claude Code tool name (Read, Grep, Bash, WebSearch, ...) "
                "or an MCP tool (mcp__server__tool)",
                f"fix or remove {tool!r}; tool names are case-sensitive, e.g. allowedTools: "
                "[Read, Grep, Bash]",
            )
    return value


class RuntimeOverride(_Spec):
    """Fields that replace the profile's own on one runtime."""

    instructions: str | None = None
    model: str | None = None
    allowed_tools: tuple[str, ...] | None = None
    can_use_tool_policy: ToolPolicySpec | None = None
    max_turns: int | None = Field(default=None, ge=1, le=500)
    max_budget_usd: float | None = Field(default=None, gt=0)
    mcp_servers: dict[str, dict[str, Any]] | None = None
    tests: tuple[SmokeTest, ...] | None = None

    @field_validator("allowed_tools")
    @classmethod
    def _tools(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _check_tools(value)


class ProfileSpec(_Spec):
    """``profile.yaml``."""

    id: str
    name: str = Field(min_length=1)
    version: str = "1.0.0"
    domain: Domain = "work"
    tags: tuple[str, ...] = ()
    supported_runtimes: tuple[str, ...] = ("claude",)
    model: str | None = None
    allowed_tools: tuple[str, ...] | None = None
    can_use_tool_policy: ToolPolicySpec = Field(default_factory=ToolPolicySpec)
    max_turns: int | None = Field(default=None, ge=1, le=500)
    max_budget_usd: float | None = Field(default=None, gt=0)
    mcp_servers: dict[str, dict[str, Any]] | None = None
    runtime_overrides: dict[str, RuntimeOverride] = Field(default_factory=lambda: {})
    tests: tuple[SmokeTest, ...] = ()
    author: str | None = None
    source: str | None = None
    hooks: Any = None
    output_format: Any = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise rule(
                "must be lowercase letters, digits and hyphens (at most 64)",
                "e.g. id: code-reviewer (the profile's folder has the same name)",
            )
        return value

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise rule(f"{value!r} is not a semantic version", "e.g. version: 1.0.0")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(tag.strip().lower() for tag in value if tag.strip())

    @field_validator("supported_runtimes")
    @classmethod
    def _runtimes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise rule(
                "must name at least one runtime (claude, codex, anthropic)",
                "e.g. supportedRuntimes: [claude]",
            )
        names: list[str] = []
        for item in value:
            name = runtime_name(item)
            if name is None:
                raise rule(
                    f"{item!r} is not a runtime a profile can claim: claude, codex, anthropic",
                    f"replace {item!r} with claude, codex or anthropic",
                )
            if name not in names:
                names.append(name)
        return tuple(names)

    @field_validator("runtime_overrides", mode="before")
    @classmethod
    def _override_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType]
            name = runtime_name(str(key))  # pyright: ignore[reportUnknownArgumentType]
            if name is None:
                raise rule(
                    f"{key!r} is not a runtime: claude, codex, anthropic",
                    f"rename the {key!r} override to claude, codex or anthropic",
                )
            out[name] = item
        return out

    @field_validator("allowed_tools")
    @classmethod
    def _tools(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return _check_tools(value)

    @field_validator("hooks")
    @classmethod
    def _no_hooks(cls, value: Any) -> Any:
        if value is not None:
            raise rule(
                "is refused: Stagent does not run profile hooks",
                "remove hooks (permission rules and canUseToolPolicy decide tool calls)",
            )
        return value

    @field_validator("output_format")
    @classmethod
    def _no_output_format(cls, value: Any) -> Any:
        if value is not None:
            raise rule(
                "is refused: it would change nothing in a run",
                "remove outputFormat and say the format you want in the instructions (SKILL.md)",
            )
        return value


class SkillDoc(BaseModel):
    """``SKILL.md``: its front matter (Claude Code's skill fields) and body."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=1024)
    when_to_use: str | None = Field(default=None, alias="when_to_use")
    license: str | None = None
    metadata: dict[str, Any] | None = None


class EffectiveOptions(BaseModel):
    """A profile's fields as they apply on one runtime (overrides applied)."""

    model_config = ConfigDict(frozen=True)

    runtime: RuntimeName
    instructions: str
    model: str | None
    allowed_tools: tuple[str, ...] | None
    auto_approve: tuple[str, ...]
    auto_deny: tuple[str, ...]
    max_turns: int | None
    max_budget_usd: float | None
    mcp_servers: dict[str, dict[str, Any]] | None
    tests: tuple[SmokeTest, ...]


class Profile(BaseModel):
    """A loaded, validated profile."""

    model_config = ConfigDict(frozen=True)

    spec: ProfileSpec
    skill: SkillDoc
    instructions: str
    scope: Scope
    path: str
    """The profile's folder."""

    @property
    def id(self) -> str:
        """The profile's id (its folder name)."""
        return self.spec.id

    @property
    def runtimes(self) -> tuple[RuntimeName, ...]:
        """The runtimes the profile claims, in its order."""
        names: list[RuntimeName] = []
        for item in self.spec.supported_runtimes:
            name = runtime_name(item)
            if name is not None:
                names.append(name)
        return tuple(names)

    @property
    def tests(self) -> tuple[SmokeTest, ...]:
        """Every smoke test of the profile, on any runtime (own first, then overrides')."""
        extra = [t for o in self.spec.runtime_overrides.values() for t in (o.tests or ())]
        return (*self.spec.tests, *extra)

    def supports(self, runtime: str) -> bool:
        """True if the profile claims ``runtime``."""
        return runtime in self.runtimes

    def options(self, runtime: RuntimeName) -> EffectiveOptions:
        """The fields that apply on ``runtime``."""
        spec = self.spec
        over = spec.runtime_overrides.get(runtime) or RuntimeOverride()
        policy = over.can_use_tool_policy
        if policy is None:
            policy = spec.can_use_tool_policy
        return EffectiveOptions(
            runtime=runtime,
            instructions=over.instructions or self.instructions,
            model=over.model or spec.model,
            allowed_tools=over.allowed_tools
            if over.allowed_tools is not None
            else spec.allowed_tools,
            auto_approve=policy.auto_approve,
            auto_deny=policy.auto_deny,
            max_turns=over.max_turns or spec.max_turns,
            max_budget_usd=over.max_budget_usd or spec.max_budget_usd,
            mcp_servers=over.mcp_servers if over.mcp_servers is not None else spec.mcp_servers,
            tests=over.tests if over.tests is not None else spec.tests,
        )
