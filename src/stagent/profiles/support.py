"""Which profile field has an effect on which runtime, and how a profile's tools become policy.

A profile may only set a field on a runtime it claims if that runtime honours the field; the
loader refuses anything else with the file, field and line. The table is the contract:

| field | claude | codex | anthropic |
|---|---|---|---|
| instructions | appended to the system prompt | developer instructions | system prompt |
| model | yes | yes | yes |
| allowedTools | tool set; the gate denies the rest | the gate denies the rest (1) | only ``[]`` |
| canUseToolPolicy | the gate | the gate | refused (no tool calls) |
| maxTurns, maxBudgetUsd, mcpServers | yes | refused | refused |

(1) and with no file-writing tool the run gets Codex's read-only sandbox. The anthropic runtime
runs no tools, so only an empty list (or none) is accepted there.
"""

from __future__ import annotations

from typing import Literal

RuntimeName = Literal["claude", "codex", "anthropic"]
RUNTIMES: tuple[RuntimeName, ...] = ("claude", "codex", "anthropic")

RUNTIME_ALIASES: dict[str, RuntimeName] = {
    "claude": "claude",
    "claude-code": "claude",
    "codex": "codex",
    "openai-codex-app-server": "codex",
    "anthropic": "anthropic",
    "anthropic-direct": "anthropic",
}
"""Runtime ids a profile may name; the original Stagent's ids map onto ours."""

FIELD_SUPPORT: dict[str, frozenset[str]] = {
    "instructions": frozenset(RUNTIMES),
    "model": frozenset(RUNTIMES),
    "allowedTools": frozenset({"claude", "codex"}),
    "canUseToolPolicy": frozenset({"claude", "codex"}),
    "maxTurns": frozenset({"claude"}),
    "maxBudgetUsd": frozenset({"claude"}),
    "mcpServers": frozenset({"claude"}),
}
"""Field (as written in profile.yaml) -> the runtimes on which it has an effect."""

WHY_NOT: dict[str, str] = {
    "allowedTools": "it runs no tools",
    "canUseToolPolicy": "it makes no tool calls",
    "maxTurns": "it has no turn limit",
    "maxBudgetUsd": "it has no per-run spending cap (budgets still apply)",
    "mcpServers": "MCP servers are not wired for it",
}

ASK_USER_QUESTION = "AskUserQuestion"

KNOWN_TOOLS: frozenset[str] = frozenset(
    {
        "Bash",
        "BashOutput",
        "KillShell",
        "Read",
        "Write",
        "Edit",
        "MultiEdit",
        "NotebookEdit",
        "NotebookRead",
        "Glob",
        "Grep",
        "LS",
        "WebFetch",
        "WebSearch",
        "Task",
        "TodoWrite",
        "AskUserQuestion",
        "ExitPlanMode",
        "Skill",
        "SlashCommand",
    }
)
"""Claude Code's tool names; a profile may also name MCP tools (``mcp__server__tool``)."""

GATED_TOOLS: tuple[str, ...] = (
    "Bash",
    "Write",
    "Edit",
    "MultiEdit",
    "NotebookEdit",
    "Read",
    "Glob",
    "Grep",
    "LS",
    "WebFetch",
    "WebSearch",
    "Task",
)
"""Tools a profile's tool list shuts off through the gate when it does not name them (every
runtime reports its tool calls in these names: a Codex command is ``Bash``, a file change
``Write``/``Edit``, a web search ``WebSearch``)."""

WRITE_TOOLS: frozenset[str] = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})


def runtime_name(value: str) -> RuntimeName | None:
    """Our runtime name for ``value`` (an alias included), else None."""
    return RUNTIME_ALIASES.get(value.strip().lower())


def known_tool(name: str) -> bool:
    """True for a Claude Code tool name or an MCP tool name."""
    return name in KNOWN_TOOLS or (name.startswith("mcp__") and name.count("__") >= 2)


def denied_by_tool_list(allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The gated tools a restricted tool list leaves out (denied on every runtime)."""
    return tuple(tool for tool in GATED_TOOLS if tool not in allowed)


def model_fits(model: str, runtime: str) -> bool:
    """A light check that a model id belongs to the runtime's provider."""
    lowered = model.lower()
    claude_like = lowered.startswith("claude") or lowered in {"sonnet", "opus", "haiku"}
    return claude_like if runtime in ("claude", "anthropic") else not claude_like
