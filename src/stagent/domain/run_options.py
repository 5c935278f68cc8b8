"""Typed run options: everything one run of an agent needs, validated when a task is saved.

`RunOptions` is the one model. Options that every runtime understands are fields of their own
(model, instructions, allowed tools, tool policy, limits, working directory); what only one
runtime understands lives in that runtime's own model (`ClaudeOptions`, `CodexOptions`,
`AnthropicOptions`, `ScriptedOptions`), under the runtime's name. Nothing private travels here:
the attempt number lives on the run record, Stagent's home on the `RunRequest`.

`parse_run_options` turns untrusted data into `RunOptions`, raising a `ValidationError` whose
message names the field (``limits.max_turns: ...``) -- the CLI, the API and the form all show it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from stagent.domain.errors import ValidationError
from stagent.domain.limits import API_ROOT_EXAMPLE, text_map_problem, url_problem

STORED = {"stored": True}
"""Validation context for options read back from the database: checks added for new input
(a provider's base URL) do not make an older stored value unreadable."""
NESTED_FIELD = "nested_field"
"""The error type of a check on one key of a mapping option: its context names the key
(``field``) and the fix (``hint``), and `parse_run_options` names ``<option>.<key>``."""


def _stored(info: ValidationInfo) -> bool:
    """Whether the options being validated were read back from the database (`STORED`)."""
    return info.context == STORED


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolPolicyOptions(_Options):
    """Tool calls decided without asking: entries in Claude Code's rule syntax."""

    auto_approve: tuple[str, ...] = ()
    auto_deny: tuple[str, ...] = ()

    @field_validator("auto_approve", "auto_deny")
    @classmethod
    def _rules(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        # The rule parser (and its matchers) load only when a policy has entries: commands
        # that merely list tasks never import them.
        from stagent.domain.permissions import parse_rule

        for entry in entries:
            try:
                parse_rule(entry, "allow")
            except ValidationError as exc:
                raise ValueError(exc.message) from None
        return entries


class Limits(_Options):
    """Where a run stops on its own."""

    max_turns: int | None = Field(default=None, ge=1, le=10_000)
    max_budget_usd: Decimal | None = Field(default=None, gt=0, le=100_000)
    """The per-run spending cap asked for (a budget's per-run cap may lower it)."""
    deadline_seconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)


class ScriptedOptions(_Options):
    """The scripted runtime: which scenario it plays (a validated scenario as data)."""

    scenario: dict[str, Any] | None = None


class ClaudeOptions(_Options):
    """Claude Code (the Agent SDK's CLI)."""

    permission_mode: Literal["default", "acceptEdits", "plan", "bypassPermissions"] | None = None
    gate: Literal["all", "claude"] | None = None
    """``all``: every tool call goes through Stagent's gate; ``claude``: only what Claude Code
    itself would ask about."""
    tools: tuple[str, ...] | None = None
    """Restrict the built-in tool set (an empty list: no tools)."""
    mcp_servers: dict[str, Any] | None = None
    resume_prompt: str | None = None
    max_retries: int | None = Field(default=None, ge=0, le=20)


class CodexOptions(_Options):
    """OpenAI's Codex app-server."""

    sandbox: Literal["read-only", "workspace-write", "danger-full-access"] | None = None
    provider: dict[str, Any] | None = None
    """A model provider (``base_url``, ``name``, ``env_key``, ``query_params``, ``wire_api``)."""

    @field_validator("provider")
    @classmethod
    def _provider_url(
        cls, provider: dict[str, Any] | None, info: ValidationInfo
    ) -> dict[str, Any] | None:
        # Stored options read as they were saved (`STORED`); new ones are checked here, so the
        # CLI, the API and the forms refuse a base URL Codex would fail every call on.
        # query_params / http_headers too: names shown, values never (they may hold a key).
        if provider is None or _stored(info):
            return provider
        if "base_url" in provider and (problem := url_problem(provider["base_url"])):
            hint = f"give the provider's API root, like {API_ROOT_EXAMPLE}"
            context = {"field": "base_url", "problem": problem, "hint": hint}
            raise PydanticCustomError(NESTED_FIELD, "{problem}", context)
        for key in ("query_params", "http_headers"):
            found = text_map_problem(key, provider[key]) if key in provider else None
            if found is not None:
                context = {"field": key, "problem": found[0], "hint": found[1]}
                raise PydanticCustomError(NESTED_FIELD, "{problem}", context)
        return provider


class AnthropicOptions(_Options):
    """The Anthropic Messages API."""

    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_retries: int | None = Field(default=None, ge=0, le=20)


RUNTIME_OPTION_FIELDS = ("scripted", "claude", "codex", "anthropic")
"""The per-runtime option models, by the runtime name they belong to."""


class RunOptions(_Options):
    """What one run of an agent needs. Stored on a task (its defaults for every run) and on each
    run (what that run actually used, after resolution)."""

    runtime: str = "scripted"
    model: str | None = Field(default=None, max_length=200)
    instructions: str | None = None
    """Added to the runtime's own system prompt (a profile's instructions, later)."""
    allowed_tools: tuple[str, ...] = ()
    tool_policy: ToolPolicyOptions | None = None
    limits: Limits = Limits()
    working_directory: str | None = None
    """Where the agent works; resolved from the task's project when not set."""
    scripted: ScriptedOptions | None = None
    claude: ClaudeOptions | None = None
    codex: CodexOptions | None = None
    anthropic: AnthropicOptions | None = None

    @model_validator(mode="after")
    def _own_runtime_only(self) -> RunOptions:
        given = [name for name in RUNTIME_OPTION_FIELDS if getattr(self, name) is not None]
        if self.runtime not in RUNTIME_OPTION_FIELDS and len(given) > 1:
            raise ValueError(f"{given[1]}: a run takes one runtime's own options")
        for name in given if self.runtime in RUNTIME_OPTION_FIELDS else ():
            if name != self.runtime:
                raise ValueError(
                    f"{name}: options for the {name} runtime, but this task runs on {self.runtime}"
                )
        return self

    def stored(self) -> dict[str, Any]:
        """JSON-ready data without defaults and without ``runtime`` (a column of its own)."""
        return self.model_dump(mode="json", exclude_defaults=True, exclude={"runtime"})

    def runtime_config(self) -> dict[str, Any]:
        """The runtime's own options as the ``RunRequest.config`` mapping runtimes read. (A
        runtime registered by others -- a test double, a plugin -- gets whichever runtime's
        options were given, e.g. a scripted scenario.)"""
        own = self.own_options()
        config: dict[str, Any] = (
            own.model_dump(mode="json", exclude_none=True) if own is not None else {}
        )
        if self.limits.deadline_seconds is not None:
            config["deadline_seconds"] = self.limits.deadline_seconds
        return config

    def own_options(self) -> _Options | None:
        """The per-runtime options this run uses, if any."""
        if self.runtime in RUNTIME_OPTION_FIELDS:
            return getattr(self, self.runtime)
        given = (getattr(self, name) for name in RUNTIME_OPTION_FIELDS)
        return next((options for options in given if options is not None), None)

    def with_changes(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` applied, validated again."""
        return parse_run_options({**self.model_dump(), **changes})


def field_path(location: tuple[int | str, ...]) -> str:
    """``("limits", "max_turns")`` -> ``limits.max_turns``."""
    return ".".join(str(part) for part in location) or "options"


def parse_run_options(data: object, *, prefix: str = "") -> RunOptions:
    """Validate untrusted option data; a `ValidationError` names the first bad field."""
    try:
        return RunOptions.model_validate(data)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = field_path(tuple(first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ")
        hint = "see the run options in the README (runtime, model, tool_policy, limits ...)"
        if first["type"] == "extra_forbidden":
            message = "not a run option"
        if not first["loc"] and ": " in message:  # a model-level check names its own field
            where, message = message.split(": ", 1)
        if first["type"] == NESTED_FIELD:
            context = first.get("ctx") or {}
            where, hint = f"{where}.{context['field']}", str(context["hint"])
        name = f"{prefix}{where}"
        count = len(exc.errors())
        more = f" (and {count - 1} more)" if count > 1 else ""
        raise ValidationError(f"{name}: {message}{more}", hint=hint) from None


_LEGACY_OWN = {
    "scripted": ("scenario",),
    "claude": ("permission_mode", "gate", "tools", "mcp_servers", "resume_prompt", "max_retries"),
    "codex": ("sandbox", "provider"),
    "anthropic": ("max_tokens", "max_retries"),
}


def from_flat(runtime: str, config: dict[str, Any]) -> RunOptions:
    """Options given as one flat mapping (``{"scenario": ..., "max_turns": 3, "model": ...}``, the
    shape schedules store) in the typed shape, validated; keys nested already pass through."""
    data: dict[str, Any] = {k: v for k, v in config.items() if not k.startswith("_")}
    limits = dict(data.pop("limits", None) or {})
    for key in ("max_turns", "max_budget_usd", "deadline_seconds"):
        if key in data:
            limits[key] = data.pop(key)
    own_keys = _LEGACY_OWN.get(runtime) or _LEGACY_OWN["scripted"]
    own = dict(data.pop(runtime, None) or {}) if runtime in RUNTIME_OPTION_FIELDS else {}
    for key in own_keys:
        if key in data:
            own[key] = data.pop(key)
    if limits:
        data["limits"] = limits
    if own:
        data[runtime if runtime in RUNTIME_OPTION_FIELDS else "scripted"] = own
    return parse_run_options({**data, "runtime": runtime}, prefix="options.")
