"""Matching parsed rules against tool calls.

A call is broken into *subjects*: the simple commands of a Bash command line, the file paths of a
file tool, or the call itself. A deny or ask rule matches a call if it matches any subject; an
allow decision needs every required subject to be matched (by this rule, or at the policy level
by some allow rule).
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from stagent.domain._bash_split import split_command, writes_file
from stagent.domain._bash_wrappers import command_variants
from stagent.domain._path_glob import parse_path_pattern, resolve_input_path
from stagent.domain._rule_syntax import Effect, ParsedRule

if TYPE_CHECKING:
    from stagent.domain.permissions import MatchContext, ToolCallLike

READ_FAMILY = frozenset({"Read", "NotebookRead", "Grep", "Glob", "LS"})
EDIT_FAMILY = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
FILE_TOOLS = READ_FAMILY | EDIT_FAMILY
_DIRECTORY_TOOLS = frozenset({"Grep", "Glob", "LS"})
_AGENT_TOOLS = frozenset({"Agent", "Task"})
_PATH_KEYS = ("file_path", "notebook_path", "path")
_PATH_LIST_KEYS = ("paths", "file_paths")

Matcher = Callable[["ToolCallLike", str, "MatchContext"], bool]


@dataclass(frozen=True, slots=True)
class Subjects:
    """What rules are matched against: ``required`` all need an allow; ``extra`` only deny/ask."""

    required: tuple[str, ...]
    extra: tuple[str, ...] = ()


def bash_command(tool_input: Mapping[str, Any]) -> str:
    """The command line of a Bash call (an argv list is joined with shell quoting)."""
    command = tool_input.get("command", "")
    if isinstance(command, list):
        return shlex.join(str(word) for word in cast(list[Any], command))
    return command if isinstance(command, str) else ""


def call_subjects(call: ToolCallLike, ctx: MatchContext) -> Subjects:
    """Break a call into the subjects rules are matched against."""
    if call.tool == "Bash":
        split = split_command(bash_command(call.input))
        return Subjects(split.parts or ("",), split.shells)
    if call.tool in FILE_TOOLS:
        paths = input_paths(call.tool, call.input)
        cwd, home = _norm(ctx.cwd), _norm(ctx.home)
        # A directory tool's subject ends in "/", so that `Read(./src/**)` covers `src` itself.
        slash = "/" if call.tool in _DIRECTORY_TOOLS else ""
        resolved = tuple(resolve_input_path(p, cwd, home).rstrip("/") + slash for p in paths)
        return Subjects(resolved or ("",))
    return Subjects(("",))


def input_paths(tool: str, tool_input: Mapping[str, Any]) -> tuple[str, ...]:
    """Every file path a file tool's input names (a directory tool defaults to the cwd).

    Besides ``file_path`` / ``notebook_path`` / ``path``, multi-file changes list theirs under
    ``paths``, ``file_paths`` or ``changes`` (Codex: ``[{"path": ..., "kind": ...}]``).
    """
    found: list[str] = []
    for key in _PATH_KEYS:
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            found.append(value)
    for key in _PATH_LIST_KEYS:
        value = tool_input.get(key)
        if isinstance(value, list):
            found.extend(v for v in cast(list[Any], value) if isinstance(v, str) and v)
    found.extend(_change_paths(tool_input.get("changes")))
    if not found and tool in _DIRECTORY_TOOLS:
        found.append(".")
    return tuple(dict.fromkeys(found))


def _change_paths(changes: object) -> list[str]:
    """Paths of a multi-file change: ``{path: change}`` or ``[{"path": ...}, ...]`` (Codex)."""
    if isinstance(changes, Mapping):
        return [str(k) for k in cast(Mapping[Any, Any], changes)]
    if not isinstance(changes, list):
        return []
    paths: list[str] = []
    for change in cast(list[Any], changes):
        if isinstance(change, str):
            paths.append(change)
        elif isinstance(change, Mapping):
            value = cast(Mapping[str, Any], change).get("path")
            if isinstance(value, str) and value:
                paths.append(value)
    return paths


def _norm(path: str) -> str:
    return "/" + posixpath.normpath(path).lstrip("/")


def applies_to_tool(parsed: ParsedRule, effect: Effect, tool: str) -> bool:
    """True if the rule is about calls of ``tool`` at all (before looking at the input)."""
    rule_tool = parsed.tool
    if parsed.kind == "tool_glob":
        return _glob(rule_tool).fullmatch(tool) is not None
    if rule_tool == "Read" and parsed.kind in ("tool", "path"):
        return tool in READ_FAMILY or (effect != "allow" and tool in EDIT_FAMILY)
    if rule_tool == "Edit" and parsed.kind in ("tool", "path"):
        return tool in EDIT_FAMILY
    if rule_tool in _AGENT_TOOLS:
        return tool in _AGENT_TOOLS
    if rule_tool.startswith("mcp__") and "__" not in rule_tool[5:]:
        return tool == rule_tool or tool.startswith(rule_tool + "__")
    return tool == rule_tool


@lru_cache(maxsize=4096)
def compile_matcher(parsed: ParsedRule, effect: Effect) -> Matcher:
    """A function deciding whether the rule matches one subject of a call."""
    if parsed.kind == "bash":
        return _bash_matcher(parsed.specifier or "", effect)
    if parsed.kind == "path":
        return _path_matcher(parsed.specifier or "", effect)
    if parsed.kind == "domain":
        return _domain_matcher(parsed.specifier or "")
    if parsed.kind == "param":
        return _param_matcher(*parsed.param)
    if parsed.kind in ("subagent", "skill"):
        return _named_matcher(parsed.specifier or "", parsed.kind)
    return _always


def _always(call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
    del call, subject, ctx
    return True


def _glob(pattern: str, *, flags: int = 0) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), flags | re.DOTALL)


def bash_regex(spec: str) -> re.Pattern[str]:
    """The regex of a Bash specifier: ``*`` is any text; a trailing `` *`` (or legacy ``:*``)
    needs a word boundary and may match nothing (``ls *`` matches ``ls`` and ``ls -la``, not
    ``lsof``); spaces match any run of blanks."""
    if spec.endswith(":*"):
        spec = spec[:-2] + " *"
    tail = ""
    if spec.endswith(" *"):
        spec, tail = spec[:-2].rstrip(), r"(?:\s.*)?"
    pieces = [r"\s+".join(map(re.escape, re.split(r" +", p))) for p in spec.split("*")]
    return re.compile(".*".join(pieces) + tail, re.DOTALL)


def _bash_matcher(spec: str, effect: Effect) -> Matcher:
    regex = bash_regex(spec)
    pattern_redirects = ">" in spec

    def match(call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
        del call, ctx
        canonical, forms = command_variants(subject.strip())
        if effect == "allow":
            if writes_file(canonical) and not pattern_redirects:
                return False
            return regex.fullmatch(canonical) is not None
        return any(regex.fullmatch(form) for form in forms)

    return match


def _path_matcher(spec: str, effect: Effect) -> Matcher:
    strict = effect != "allow"
    pattern = parse_path_pattern(spec, single_segment_any_depth=strict, ignore_case=strict)

    def match(call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
        del call
        if not subject:
            return False
        settings_dir = ctx.settings_dir or ctx.project_root or ctx.cwd
        base = _norm(pattern.base(ctx.cwd, ctx.home, settings_dir))
        return pattern.matches(subject, base, ancestors=effect != "allow")

    return match


def url_host(url: str) -> str | None:
    """The lower-case host of a URL, or None if it has none.

    Parsed as browsers and Node do (WHATWG): tabs and newlines are dropped and a backslash is a
    slash, so ``https://evil.com\\@example.com`` is on evil.com.
    """
    url = re.sub(r"[\t\n\r]", "", url.strip()).replace("\\", "/")
    try:
        host = urlsplit(url if "://" in url else f"//{url}").hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def _domain_matcher(spec: str) -> Matcher:
    domain = spec.partition(":")[2]

    def match(call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
        del subject, ctx
        url = call.input.get("url")
        host = url_host(url) if isinstance(url, str) else None
        if host is None:
            return False
        if domain == "*":
            return True
        if domain.startswith("*."):
            return host.endswith(domain[1:])
        return host == domain

    return match


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _param_matcher(key: str, value_pattern: str) -> Matcher:
    regex = _glob(value_pattern, flags=re.IGNORECASE)

    def match(call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
        del subject, ctx
        if key not in call.input:
            return False
        return regex.fullmatch(_value_text(call.input[key])) is not None

    return match


def _named_matcher(name: str, kind: str) -> Matcher:
    regex = _glob(name)
    keys: Sequence[str] = ("subagent_type",) if kind == "subagent" else ("skill", "command")

    def match(call: ToolCallLike, subject: str, ctx: MatchContext) -> bool:
        del subject, ctx
        for key in keys:
            value = call.input.get(key)
            if isinstance(value, str) and regex.fullmatch(value.lstrip("/")):
                return True
        return False

    return match
