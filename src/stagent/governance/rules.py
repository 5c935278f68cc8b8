"""Deciding a tool call from the rules: evaluation order, scopes, suggestions and risk levels.

`evaluate` is the automatic layer of the permission flow. ``AskUserQuestion`` always goes to a
person; otherwise deny beats ask beats allow across the profile's tool policy and the saved
rules, the first match within an effect wins, and a call no rule decides is ``undecided`` (the
caller then asks a person). Pure: rules come in as values.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from stagent.domain._bash_split import split_command
from stagent.domain._bash_wrappers import command_variants, first_words
from stagent.domain._command_risk import is_destructive, is_read_only, is_sensitive_path
from stagent.domain._path_glob import resolve_input_path
from stagent.domain._rule_match import (
    EDIT_FAMILY,
    READ_FAMILY,
    Subjects,
    bash_command,
    call_subjects,
    input_paths,
    url_host,
)
from stagent.domain.errors import ValidationError
from stagent.domain.permissions import (
    MatchContext,
    PermissionRule,
    ToolCall,
    ToolCallLike,
    ToolPolicy,
    parse_rule,
)

Verdict = Literal["allow", "deny", "ask", "undecided"]
RiskLevel = Literal["low", "medium", "high"]

ASK_USER_QUESTION = "AskUserQuestion"
ASK_USER_REASON = "AskUserQuestion always asks a person"


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """What the rules say about one call, and which rule(s) said it."""

    verdict: Verdict
    rule: PermissionRule | None = None
    """The deciding rule (the first one, when several allow rules cover a compound command)."""
    rules: tuple[PermissionRule, ...] = ()
    reason: str = ""
    """For the audit trail: ``decided by rule `Bash(rm *)```."""
    uncovered: tuple[str, ...] = ()
    """For ``undecided``: the parts of the call (simple commands, paths) no allow rule covered."""

    @property
    def decided(self) -> bool:
        """True unless the caller still has to ask a person (``ask`` or ``undecided``)."""
        return self.verdict in ("allow", "deny")


def match_context(
    cwd: str | Path,
    *,
    project_root: str | Path | None = None,
    task_id: str | None = None,
    project_id: str | None = None,
    home: str | Path | None = None,
    settings_dir: str | Path | None = None,
) -> MatchContext:
    """A `MatchContext` with the home directory filled in from the environment if not given."""

    def text(p: str | Path | None) -> str | None:
        return None if p is None else str(p)

    return MatchContext(
        cwd=str(cwd),
        home=str(home if home is not None else Path.home()),
        project_root=text(project_root),
        settings_dir=text(settings_dir),
        task_id=task_id,
        project_id=project_id,
    )


def evaluate(
    request: ToolCallLike,
    rules: Iterable[PermissionRule],
    ctx: MatchContext,
    profile_policy: ToolPolicy | None = None,
) -> RuleVerdict:
    """Decide ``request`` from the profile's tool policy and the saved rules.

    Order: ``AskUserQuestion`` asks; then deny, then ask, then allow (policy rules before saved
    rules within an effect; the first match wins). Rules whose scope does not cover
    ``ctx.task_id`` / ``ctx.project_id`` are skipped. A compound Bash command (or a multi-file
    change) is allowed only if every part is covered by some allow rule; a deny or ask rule
    that matches any part decides.
    """
    if request.tool == ASK_USER_QUESTION:
        return RuleVerdict("ask", reason=ASK_USER_REASON)
    policy_rules = profile_policy.rules if profile_policy is not None else ()
    candidates = [
        rule
        for rule in (*policy_rules, *rules)
        if rule.applies_in(ctx) and rule.applies_to_tool(request.tool)
    ]
    subjects = call_subjects(request, ctx)
    for effect in ("deny", "ask"):
        for rule in candidates:
            if rule.effect == effect and _matches_any(rule, request, subjects, ctx):
                return RuleVerdict(effect, rule, (rule,), f"decided by {rule.label()}")
    return _allow_verdict(request, [r for r in candidates if r.effect == "allow"], subjects, ctx)


def _matches_any(
    rule: PermissionRule, request: ToolCallLike, subjects: Subjects, ctx: MatchContext
) -> bool:
    every = subjects.required + subjects.extra
    return any(rule.matches_subject(request, s, ctx) for s in every)


def _allow_verdict(
    request: ToolCallLike, allow: list[PermissionRule], subjects: Subjects, ctx: MatchContext
) -> RuleVerdict:
    used: list[PermissionRule] = []
    uncovered: list[str] = []
    for subject in subjects.required:
        rule = next((r for r in allow if r.matches_subject(request, subject, ctx)), None)
        if rule is None:
            uncovered.append(subject)
        elif rule not in used:
            used.append(rule)
    if uncovered or not used:
        what = ", ".join(f"`{s}`" for s in uncovered if s)
        reason = f"no rule decides this {request.tool} call"
        return RuleVerdict(
            "undecided",
            reason=reason + (f" (not covered: {what})" if what else ""),
            uncovered=tuple(uncovered),
        )
    labels = ", ".join(r.label() for r in used)
    return RuleVerdict("allow", used[0], tuple(used), f"decided by {labels}")


_DIRECTORY_TOOLS = frozenset({"Grep", "Glob", "LS"})
_TWO_WORD_COMMANDS = frozenset(
    [
        "git",
        "npm",
        "pnpm",
        "yarn",
        "bun",
        "cargo",
        "go",
        "docker",
        "podman",
        "kubectl",
        "helm",
        "uv",
        "poetry",
        "pip",
        "pip3",
        "npx",
        "pnpx",
        "bunx",
        "make",
        "gh",
        "terraform",
    ]
)
_EXACT_ONLY = frozenset(
    [
        "sudo",
        "su",
        "doas",
        "rm",
        "rmdir",
        "eval",
        "exec",
        "bash",
        "sh",
        "zsh",
        "dash",
        "ksh",
        "env",
        "xargs",
        "chmod",
        "chown",
        "dd",
        "kill",
        "pkill",
        "killall",
        "mv",
    ]
)


def suggest_rule(
    tool: str, tool_input: Mapping[str, Any], *, cwd: str | None = None, home: str | None = None
) -> str | None:
    """The rule an "always allow" button would save for this call, or None if none is safe.

    Bash: ``Bash(<first word> *)``, two words for git/npm/cargo/docker/... (``Bash(git commit
    *)``), ``Bash(python -m pytest *)``; the exact command for destructive or shell-escaping
    commands (``rm``, ``sudo``, ``bash``...). File tools: ``Read(./dir/**)`` / ``Edit(./dir/**)``
    for the file's directory (``//abs/dir/**`` outside ``cwd``). WebFetch: the URL's domain.
    MCP: the full tool name. ``AskUserQuestion``: None (it always asks).
    """
    if tool == ASK_USER_QUESTION:
        return None
    if tool == "Bash":
        text = _suggest_bash(bash_command(tool_input))
    elif tool in READ_FAMILY or tool in EDIT_FAMILY:
        text = _suggest_path(tool, tool_input, cwd, home)
    elif tool == "WebFetch":
        url = tool_input.get("url")
        host = url_host(url) if isinstance(url, str) else None
        text = f"WebFetch(domain:{host})" if host else None
    elif tool in ("Agent", "Task") and isinstance(tool_input.get("subagent_type"), str):
        text = f"{tool}({tool_input['subagent_type']})"
    else:
        text = tool
    return _valid_allow(text)


def _valid_allow(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_rule(text, "allow").text
    except ValidationError:
        return None


def _suggest_bash(command: str) -> str | None:
    parts = split_command(command).parts
    if not parts or not parts[0]:
        return None
    part = parts[0]
    words = first_words(part)
    if not words:
        return None
    head = words[0]
    if head in _EXACT_ONLY or is_destructive(part):
        exact = command_variants(part)[0]
        return None if "*" in exact or "\n" in exact else f"Bash({exact})"
    rest = words[1:]
    if head.startswith("python") and rest[:1] == ["-m"] and len(rest) > 1:
        return f"Bash({head} -m {rest[1]} *)"
    if head in _TWO_WORD_COMMANDS and rest and not rest[0].startswith("-"):
        return f"Bash({head} {rest[0]} *)"
    return f"Bash({head} *)"


def _suggest_path(
    tool: str, tool_input: Mapping[str, Any], cwd: str | None, home: str | None
) -> str | None:
    rule_tool = "Edit" if tool in EDIT_FAMILY else "Read"
    paths = input_paths(tool, tool_input)
    if not paths:
        return None
    directory_tool = tool in _DIRECTORY_TOOLS
    relative = all(not p.startswith(("/", "~")) for p in paths)
    root = _norm(cwd) if cwd else ("/" if relative else None)
    resolved = [resolve_input_path(p, root or "/", home or "/") for p in paths]
    directory = posixpath.commonpath(
        [r if directory_tool else posixpath.dirname(r) for r in resolved]
    )
    if root is not None:
        if directory == root:
            return f"{rule_tool}(./**)" if directory_tool else f"{rule_tool}(./*)"
        prefix = root.rstrip("/") + "/"
        if directory.startswith(prefix):
            return f"{rule_tool}(./{_escape_glob(directory[len(prefix) :])}/**)"
    return rule_tool if directory == "/" else f"{rule_tool}(/{_escape_glob(directory)}/**)"


def _escape_glob(path: str) -> str:
    return re.sub(r"([*?\[\]])", r"\\\1", path)


def _norm(path: str) -> str:
    return "/" + posixpath.normpath(path).lstrip("/")


_LOW_RISK_TOOLS = frozenset(
    {*READ_FAMILY, "WebSearch", "TodoWrite", "ExitPlanMode", "BashOutput", ASK_USER_QUESTION}
)
_MEDIUM_RISK_TOOLS = frozenset({*EDIT_FAMILY, "Agent", "Task", "Skill", "KillShell"})
_READ_VERBS = ("get", "list", "read", "search", "describe", "show", "view", "find", "query")


def risk_level(tool: str, tool_input: Mapping[str, Any]) -> RiskLevel:
    """A rough risk label for the inbox card.

    Low: reading tools and read-only shell commands (``ls``, ``git status``...) and MCP tools
    named for reading (``get_*``, ``list_*``...). Medium: edits, subagents. High: other shell
    commands (destructive ones such as ``rm -rf``, ``git push --force``, ``curl | sh``
    included), WebFetch, other MCP tools, unknown tools, and any file tool touching secrets or
    start-up files (``.env``, ``~/.ssh``, ``.git``...).
    """
    if tool == "Bash":
        command = bash_command(tool_input)
        parts = split_command(command).parts
        if parts and not is_destructive(command) and all(is_read_only(p) for p in parts):
            return "low"
        return "high"
    if tool in READ_FAMILY or tool in EDIT_FAMILY:
        if any(is_sensitive_path(p) for p in input_paths(tool, tool_input)):
            return "high"
        return "low" if tool in READ_FAMILY else "medium"
    if tool in _LOW_RISK_TOOLS:
        return "low"
    if tool in _MEDIUM_RISK_TOOLS:
        return "medium"
    if tool.startswith("mcp__"):
        name = tool.rsplit("__", 1)[-1].lower()
        return "low" if name.startswith(_READ_VERBS) else "high"
    return "high"


__all__ = [
    "ASK_USER_REASON",
    "RiskLevel",
    "RuleVerdict",
    "ToolCall",
    "Verdict",
    "evaluate",
    "match_context",
    "risk_level",
    "suggest_rule",
]
