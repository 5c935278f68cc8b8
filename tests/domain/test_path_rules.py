"""Read/Edit path rules at their edges: gitignore globs (``*``, ``?``, ``**``, classes,
escapes), the four anchors, any-depth patterns, deny rules covering what is inside a match and
ignoring case, and inputs that try to leave the directory."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import MatchContext, PermissionRule, ToolCall

CTX = MatchContext(cwd="/w/proj/sub", home="/home/u", project_root="/w/proj")


def matches(rule: str, path: str, effect: str = "allow", tool: str = "Read") -> bool:
    parsed = PermissionRule.from_text(rule, effect)  # type: ignore[arg-type]
    return parsed.matches(ToolCall(tool, {"file_path": path}), CTX)


@pytest.mark.parametrize(
    ("rule", "path", "expected"),
    [
        # `**` spans segments, `*` does not
        ("Read(./a/**/z.txt)", "a/z.txt", True),
        ("Read(./a/**/z.txt)", "a/b/c/z.txt", True),
        ("Read(./a/*/z.txt)", "a/b/c/z.txt", False),
        ("Read(./a/*/z.txt)", "a/b/z.txt", True),
        ("Read(./a/**)", "a/b/c", True),
        ("Read(./a/**)", "ab/c", False),
        ("Read(./**/*.py)", "x/y/z.py", True),
        ("Read(./**/*.py)", "z.py", True),
        ("Read(./*.py)", "z.py", True),
        ("Read(./*.py)", "x/z.py", False),  # ./ anchors: no any-depth
        ("Read(*.py)", "x/y/z.py", True),  # bare: any depth below the cwd
        ("Read(*.py)", "/w/proj/z.py", False),  # ... but not above it
        # character classes and escapes
        ("Read(./v[0-9].txt)", "v7.txt", True),
        ("Read(./v[0-9].txt)", "vx.txt", False),
        ("Read(./v[^0-9].txt)", "vx.txt", True),
        ("Read(./v[!0-9].txt)", "v7.txt", False),
        ("Read(./[]]x)", "]x", True),
        ("Read(./a\\?)", "a?", True),
        ("Read(./a\\?)", "ab", False),
        ("Read(./what?.md)", "what1.md", True),
        ("Read(./what?.md)", "what/.md", False),  # ? stays inside a segment
        # anchors
        ("Read(//etc/*)", "/etc/hosts", True),
        ("Read(//etc/*)", "/etc/ssl/certs", False),
        ("Read(~/.ssh/**)", "/home/u/.ssh/id_rsa", True),
        ("Read(~)", "/home/u/anything", True),
        ("Read(/README.md)", "/w/proj/README.md", True),  # the project root
        ("Read(/README.md)", "/w/proj/sub/README.md", False),
        ("Read(./README.md)", "/w/proj/sub/README.md", True),  # the cwd
        ("Read(README.md)", "/w/proj/sub/deep/README.md", True),
    ],
)
def test_globs_and_anchors(rule: str, path: str, expected: bool) -> None:
    assert matches(rule, path) is expected


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("Read(./secret)", "secret/nested/file"),
        ("Read(.env)", "config/.env"),
        ("Read(./.env)", ".ENV"),
        ("Read(//etc/passwd)", "/ETC/PASSWD"),
        ("Read(src/*.key)", "lib/src/A.KEY"),
    ],
)
def test_deny_rules_cover_what_is_inside_and_ignore_case(rule: str, path: str) -> None:
    assert matches(rule, path, "deny")
    assert matches(rule, path, "ask")


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ("Read(./secret)", "secret/nested/file"),
        ("Read(./.env)", ".ENV"),
        ("Read(src/*.key)", "lib/src/a.key"),
    ],
)
def test_allow_rules_are_exact(rule: str, path: str) -> None:
    assert not matches(rule, path, "allow")


@pytest.mark.parametrize(
    "path",
    [
        "../../../etc/passwd",
        "/w/proj/sub/../../../etc/passwd",
        "./a/../../../../etc/passwd",
        "//etc/passwd",
    ],
)
def test_an_input_that_climbs_out_is_judged_where_it_lands(path: str) -> None:
    assert matches("Read(//etc/passwd)", path, "deny")
    assert not matches("Read(./**)", path)


def test_an_edit_deny_on_a_directory_covers_every_edit_tool() -> None:
    for tool in ("Edit", "Write", "MultiEdit", "NotebookEdit"):
        assert matches("Edit(./locked/)", "locked/x", "deny", tool)
    assert not matches("Edit(./locked/)", "locked/x", "deny", "Read")


def test_a_read_deny_also_stops_edits_of_the_file() -> None:
    assert matches("Read(./.env)", ".env", "deny", "Write")
    assert matches("Read(./.env)", ".env", "ask", "Edit")


def test_a_call_without_a_path_matches_no_path_rule() -> None:
    rule = PermissionRule.from_text("Read(./**)", "deny")
    assert not rule.matches(ToolCall("Read", {}), CTX)


def test_a_directory_listing_is_covered_by_the_rule_for_its_contents() -> None:
    rule = PermissionRule.from_text("Read(./src/**)")
    assert rule.matches(ToolCall("LS", {"path": "src"}), CTX)
    assert rule.matches(ToolCall("Grep", {"pattern": "x", "path": "src/lib"}), CTX)
    assert not rule.matches(ToolCall("Glob", {"pattern": "*", "path": "."}), CTX)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ("Read(src/../x)", "'..' segments are not allowed"),
        ("Read(./a/./b)", "empty or '.' segment"),
        ("Read(D:/data/**)", "Windows paths"),
        ("Read(a\\b)", "Windows paths"),
        ("Read(~root/x)", "'~user' anchors"),
        ("Read(!keep)", "negation"),
    ],
)
def test_path_forms_claude_code_would_not_honour_are_refused(rule: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PermissionRule.from_text(rule, "deny")
    assert reason in caught.value.message
    assert caught.value.hint == "see the four anchors: //abs, ~/home, /project, ./cwd"
