"""Parsing and validating permission rules written in Claude Code's syntax.

A rule is ``Tool`` or ``Tool(specifier)``. Forms that Claude Code would ignore, or that are
malformed, are refused with a `ValidationError` naming the rule, the reason and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from stagent.domain._path_glob import PathRuleError, parse_path_pattern
from stagent.domain.errors import ValidationError
from stagent.domain.limits import RULE_MAX, checked_text

Effect = Literal["allow", "deny", "ask"]
RuleKind = Literal["tool", "tool_glob", "bash", "path", "domain", "param", "subagent", "skill"]

KNOWN_TOOLS = [
    "Agent",
    "AskUserQuestion",
    "Bash",
    "BashOutput",
    "Edit",
    "ExitPlanMode",
    "Glob",
    "Grep",
    "KillShell",
    "LS",
    "MultiEdit",
    "NotebookEdit",
    "NotebookRead",
    "Read",
    "Skill",
    "SlashCommand",
    "Task",
    "TodoWrite",
    "WebFetch",
    "WebSearch",
    "Write",
]
PATH_RULE_TOOLS = frozenset({"Read", "Edit"})
_IGNORED_PATH_TOOLS = {
    "Write": "Edit",
    "MultiEdit": "Edit",
    "NotebookEdit": "Edit",
    "Glob": "Read",
    "Grep": "Read",
    "LS": "Read",
    "NotebookRead": "Read",
}
_AGENT_TOOLS = frozenset({"Agent", "Task"})
_AGENT_PARAMS = frozenset(
    {"model", "isolation", "subagent_type", "run_in_background", "description", "prompt", "name"}
)
_BASH_PARAMS = frozenset({"run_in_background", "dangerouslyDisableSandbox"})
_TOOL_NAME = re.compile(r"^[A-Za-z_*][A-Za-z0-9_.*-]*$")
_PARAM = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(.+)$", re.DOTALL)
_HOST = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)
_SUBAGENT = re.compile(r"^[A-Za-z0-9_.:*-]+$")


@dataclass(frozen=True, slots=True)
class ParsedRule:
    """A syntactically valid rule: the tool, its specifier, and what kind of rule it is."""

    tool: str
    specifier: str | None
    kind: RuleKind

    @property
    def text(self) -> str:
        """The rule in Claude Code's syntax."""
        return self.tool if self.specifier is None else f"{self.tool}({self.specifier})"

    @property
    def param(self) -> tuple[str, str]:
        """For an input-parameter rule: the key and the value pattern."""
        key, _, value = (self.specifier or "").partition(":")
        return key, value


def refusal(text: str, reason: str, fix: str) -> ValidationError:
    """The error for a refused rule: the rule, why, and what to write instead."""
    return ValidationError(f"Rule `{text}` is refused: {reason}. {fix}", hint=fix)


def parse_rule(text: str, effect: Effect | None = None) -> ParsedRule:
    """Parse a rule in Claude Code's syntax, refusing forms Claude Code would ignore.

    With ``effect`` given, also apply the checks that depend on it: tool-name globs and
    input-parameter rules are honoured only in deny and ask rules.
    """
    text = checked_text("rule", text.strip(), RULE_MAX)
    if not text:
        raise ValidationError(
            "A permission rule is empty.", hint="write a tool name such as `Read`"
        )
    tool, spec = _split(text)
    _check_tool_name(text, tool)
    if spec is not None and not spec.strip():
        raise refusal(
            text, "the specifier is empty", f"write `{tool}` to match every use of the tool"
        )
    parsed = _classify(text, tool, spec.strip() if spec is not None else None)
    if effect == "allow":
        _check_allow(text, parsed)
    return parsed


def _split(text: str) -> tuple[str, str | None]:
    open_at = text.find("(")
    if open_at < 0:
        if ")" in text:
            raise refusal(text, "it has a ')' without a '('", "write `Tool(specifier)`")
        return text, None
    if not text.endswith(")"):
        raise refusal(
            text,
            "its parentheses are unbalanced or text follows the closing ')'",
            "write `Tool(specifier)` with the specifier inside one pair of parentheses",
        )
    spec = text[open_at + 1 : -1]
    if not _balanced(spec):
        raise refusal(
            text, "its parentheses are unbalanced", "close every '(' inside the specifier"
        )
    return text[:open_at].strip(), spec


def _balanced(spec: str) -> bool:
    depth = 0
    quote = ""
    escaped = False
    for c in spec:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif quote:
            quote = "" if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _check_tool_name(text: str, tool: str) -> None:
    if not _TOOL_NAME.match(tool):
        raise refusal(
            text,
            f"'{tool}' is not a tool name",
            "tool names are letters, digits, '_', '-' and '.', such as `Bash` or `mcp__github`",
        )
    for known in KNOWN_TOOLS:
        if tool != known and tool.lower() == known.lower():
            raise refusal(
                text, f"tool names are case-sensitive and '{tool}' is not one", f"use `{known}`"
            )
    if tool == "AskUserQuestion":
        raise refusal(
            text,
            "AskUserQuestion always goes to a person, so rules for it have no effect",
            "remove the rule",
        )


def _classify(text: str, tool: str, spec: str | None) -> ParsedRule:
    if "*" in tool:
        return _tool_glob(text, tool, spec)
    if spec is None or (tool == "Bash" and spec == "*"):
        return ParsedRule(tool, None, "tool")
    if tool == "Bash":
        return _bash(text, spec)
    if tool in PATH_RULE_TOOLS:
        return _path(text, tool, spec)
    if tool in _IGNORED_PATH_TOOLS:
        target = _IGNORED_PATH_TOOLS[tool]
        also = "Write, MultiEdit and NotebookEdit" if target == "Edit" else "Glob and Grep"
        raise refusal(
            text,
            f"{tool} path rules are ignored by Claude Code",
            f"use `{target}({spec})`, which also covers {also}",
        )
    if tool == "WebFetch":
        return _webfetch(text, spec)
    if tool in _AGENT_TOOLS:
        return _agent(text, tool, spec)
    if tool == "Skill":
        return _named(text, tool, spec, "skill")
    if tool == "Cd":
        raise refusal(
            text,
            "Cd rules govern Claude Code's interactive /cd command, which agents never call",
            "use Read(...) or Edit(...) path rules to limit where an agent works",
        )
    if _PARAM.match(spec):
        return ParsedRule(tool, spec, "param")
    raise refusal(
        text,
        f"{tool} takes no specifier of this form",
        f"write `{tool}` to match every use, or an input-parameter rule such as "
        f"`{tool}(key:value)` in deny or ask",
    )


def _tool_glob(text: str, tool: str, spec: str | None) -> ParsedRule:
    if spec is not None:
        raise refusal(text, "a tool-name glob takes no specifier", f"write `{tool}` on its own")
    return ParsedRule(tool, None, "tool_glob")


def is_mcp_tool_glob(tool: str) -> bool:
    """``mcp__server__get_*``: a glob only in the tool part of one server's names."""
    if not tool.startswith("mcp__"):
        return False
    server, sep, _ = tool[5:].partition("__")
    return bool(sep) and bool(server) and "*" not in server


def _bash(text: str, spec: str) -> ParsedRule:
    match = _PARAM.match(spec)
    if match and match.group(1) in _BASH_PARAMS:
        return ParsedRule("Bash", spec, "param")
    if ":*" in spec[:-2]:
        raise refusal(
            text,
            "the legacy ':*' wildcard is only valid at the end of a Bash rule",
            "use ' *' for a wildcard in the middle, as in `Bash(git * main)`",
        )
    return ParsedRule("Bash", spec, "bash")


def _path(text: str, tool: str, spec: str) -> ParsedRule:
    try:
        parse_path_pattern(spec, single_segment_any_depth=False)
    except PathRuleError as exc:
        raise refusal(
            text, str(exc), "see the four anchors: //abs, ~/home, /project, ./cwd"
        ) from exc
    return ParsedRule(tool, spec, "path")


def _webfetch(text: str, spec: str) -> ParsedRule:
    if not spec.startswith("domain:"):
        if _PARAM.match(spec) and "://" not in spec:
            return ParsedRule("WebFetch", spec, "param")
        raise refusal(
            text,
            "WebFetch rules match by domain",
            "write `WebFetch(domain:example.com)` or `WebFetch(domain:*.example.com)`",
        )
    host = spec[len("domain:") :].strip()
    if "://" in host or "/" in host:
        raise refusal(
            text, "a domain rule names a host, not a URL", "write `WebFetch(domain:example.com)`"
        )
    if ":" in host:
        raise refusal(text, "a domain rule takes no port", "drop the ':port'")
    if host != "*" and not _HOST.match(host.lower()):
        raise refusal(
            text,
            f"'{host}' is not a host name",
            "write a host such as example.com or *.example.com",
        )
    return ParsedRule("WebFetch", f"domain:{host.lower()}", "domain")


def _agent(text: str, tool: str, spec: str) -> ParsedRule:
    match = _PARAM.match(spec)
    if match and match.group(1) in _AGENT_PARAMS:
        return ParsedRule(tool, spec, "param")
    return _named(text, tool, spec, "subagent")


def _named(text: str, tool: str, spec: str, kind: RuleKind) -> ParsedRule:
    if not _SUBAGENT.match(spec):
        what = "a subagent type" if kind == "subagent" else "a skill name"
        raise refusal(
            text, f"'{spec}' is not {what}", f"write `{tool}(name)` with letters, digits, '-'"
        )
    return ParsedRule(tool, spec, kind)


def _check_allow(text: str, parsed: ParsedRule) -> None:
    if parsed.kind == "tool_glob" and not is_mcp_tool_glob(parsed.tool):
        raise refusal(
            text,
            "tool-name globs are only honoured in deny and ask rules",
            "list the tools to allow one by one, or use `mcp__server` for one MCP server",
        )
    if parsed.kind == "param":
        raise refusal(
            text,
            "input-parameter rules are only honoured in deny and ask rules",
            "make it a deny or ask rule, or allow the bare tool",
        )
