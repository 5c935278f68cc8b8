"""What a rule is matched against: a call broken into subjects (the simple commands of a Bash
line, the resolved paths of a file tool), Bash patterns' word boundaries, and URL hosts read the
way a browser reads them. Plus: a rule's normalised text parses back to the same rule."""

from __future__ import annotations

from typing import Any

import pytest

from stagent.domain._rule_match import (
    bash_command,
    bash_regex,
    call_subjects,
    input_paths,
    url_host,
)
from stagent.domain.permissions import MatchContext, PermissionRule, ToolCall, parse_rule

CTX = MatchContext(cwd="/w/proj", home="/home/u", project_root="/w/proj")


@pytest.mark.parametrize(
    ("spec", "command", "matches"),
    [
        ("ls *", "ls", True),  # a trailing ` *` may match nothing
        ("ls *", "ls -la", True),
        ("ls *", "lsof", False),  # ... but keeps the word boundary
        ("npm run test:*", "npm run test", True),  # legacy `:*` is the same
        ("npm run test:*", "npm run test -- -x", True),
        ("npm run test:*", "npm run testing", False),
        ("git * main", "git push origin main", True),
        ("git * main", "git push origin main2", False),
        ("* --version", "node --version", True),
        ("* --version", "node --versions", False),
        ("echo hi", "echo   hi", True),  # runs of blanks
        ("echo hi", "echo hi there", False),  # no wildcard: the whole command
        ("make", "make", True),
        ("a*b", "a-anything-b", True),
        ("a.b", "aXb", False),  # regex characters are literal
        ("cat (x)", "cat (x)", True),
    ],
)
def test_bash_patterns_match_whole_commands(spec: str, command: str, matches: bool) -> None:
    assert (bash_regex(spec).fullmatch(command) is not None) is matches


@pytest.mark.parametrize(
    ("tool_input", "command"),
    [
        ({"command": "ls -la"}, "ls -la"),
        ({"command": ["ls", "-la", "my file"]}, "ls -la 'my file'"),
        ({"command": 3}, ""),
        ({}, ""),
    ],
)
def test_a_bash_calls_command_line_is_text_or_a_quoted_argv(
    tool_input: dict[str, Any], command: str
) -> None:
    assert bash_command(tool_input) == command


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://Example.COM/path", "example.com"),
        ("example.com/path", "example.com"),
        ("https://example.com./", "example.com"),
        ("https://u:p@example.com:8080/", "example.com"),
        ("https://evil.com\\@example.com/", "evil.com"),
        ("https://exa\tmple.com/", "example.com"),
        ("https://[::1]:80/", "::1"),
        ("http://", None),
        ("https://[bad/", None),
        ("", None),
    ],
)
def test_url_hosts_are_read_as_a_browser_reads_them(url: str, host: str | None) -> None:
    assert url_host(url) == host


@pytest.mark.parametrize(
    ("tool", "tool_input", "paths"),
    [
        ("Read", {"file_path": "a.py"}, ("a.py",)),
        ("NotebookEdit", {"notebook_path": "n.ipynb"}, ("n.ipynb",)),
        ("Grep", {"pattern": "x", "path": "src"}, ("src",)),
        ("Grep", {"pattern": "x"}, (".",)),  # a directory tool defaults to the cwd
        ("Read", {}, ()),
        ("Edit", {"paths": ["a", "b", "a"]}, ("a", "b")),
        ("Edit", {"file_paths": ["a", 3, ""]}, ("a",)),
        ("Edit", {"changes": {"x.py": {}, "y.py": {}}}, ("x.py", "y.py")),
        (
            "Edit",
            {"changes": [{"path": "x.py", "kind": "add"}, "y.py", {"kind": "x"}]},
            ("x.py", "y.py"),
        ),
        ("Edit", {"file_path": "a", "changes": [{"path": "b"}]}, ("a", "b")),
    ],
)
def test_every_path_a_file_tool_names_is_found(
    tool: str, tool_input: dict[str, Any], paths: tuple[str, ...]
) -> None:
    assert input_paths(tool, tool_input) == paths


@pytest.mark.parametrize(
    ("call", "required", "extra"),
    [
        (ToolCall("Bash", {"command": "ls && rm x"}), ("ls", "rm x"), ()),
        (ToolCall("Bash", {"command": "bash -c 'ls'"}), ("ls",), ("bash -c 'ls'",)),
        (ToolCall("Bash", {}), ("",), ()),
        (ToolCall("Read", {"file_path": "src/../a.py"}), ("/w/proj/a.py",), ()),
        (ToolCall("Read", {"file_path": "~/notes"}), ("/home/u/notes",), ()),
        (ToolCall("Read", {"file_path": "//etc//hosts"}), ("/etc/hosts",), ()),
        (ToolCall("LS", {"path": "src"}), ("/w/proj/src/",), ()),  # a directory: trailing slash
        (ToolCall("Glob", {}), ("/w/proj/",), ()),
        (ToolCall("Read", {}), ("",), ()),
        (ToolCall("WebFetch", {"url": "https://x"}), ("",), ()),
    ],
)
def test_a_call_breaks_into_the_subjects_rules_see(
    call: ToolCall, required: tuple[str, ...], extra: tuple[str, ...]
) -> None:
    subjects = call_subjects(call, CTX)
    assert subjects.required == required
    assert subjects.extra == extra


def test_an_allow_rule_needs_every_subject_and_a_deny_rule_any() -> None:
    call = ToolCall("Bash", {"command": "git status && curl x | sh"})
    allow = PermissionRule.from_text("Bash(git status *)")
    deny = PermissionRule.from_text("Bash(curl *)", "deny")
    assert allow.matches_subject(call, "git status", CTX)
    assert not allow.matches(call, CTX)
    assert deny.matches(call, CTX)
    assert not deny.matches_subject(call, "git status", CTX)


def test_a_rule_about_another_tool_matches_no_subject() -> None:
    rule = PermissionRule.from_text("Bash(ls *)")
    assert not rule.matches_subject(ToolCall("Read", {"file_path": "ls"}), "ls", CTX)


def test_a_deny_rule_also_sees_the_outer_shell_invocation() -> None:
    call = ToolCall("Bash", {"command": "bash -c 'echo hi'"})
    assert PermissionRule.from_text("Bash(bash *)", "deny").matches(call, CTX)
    assert not PermissionRule.from_text("Bash(bash *)").matches(call, CTX)  # allow: the script


@pytest.mark.parametrize(
    ("text", "effect"),
    [
        ("Bash", "allow"),
        ("  Bash( ls * )  ", "allow"),
        ("Bash(npm run test:*)", "allow"),
        ("Read(./.env)", "deny"),
        ("Edit(/src/**/*.ts)", "allow"),
        ("Read(~/.zshrc)", "ask"),
        ("WebFetch(domain:*.Example.COM)", "allow"),
        ("mcp__github__get_*", "allow"),
        ("mcp__*", "deny"),
        ("Agent(model:opus)", "deny"),
        ("Agent(Explore)", "allow"),
        ("Skill(pdf)", "allow"),
        ("mcp__db__query(table:users)", "ask"),
    ],
)
def test_a_rules_normalised_text_parses_back_to_the_same_rule(text: str, effect: str) -> None:
    rule = PermissionRule.from_text(text, effect)  # type: ignore[arg-type]
    again = PermissionRule.from_text(rule.text, effect)  # type: ignore[arg-type]
    assert again == rule
    assert again.parsed == rule.parsed
    assert parse_rule(rule.text).text == rule.text
