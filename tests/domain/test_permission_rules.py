"""Saved permission rules as values: scopes, identity, the profile tool policy, the match
context, and path rules' anchors and globs at their edges."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import MatchContext, PermissionRule, ToolCall, ToolPolicy

CTX = MatchContext(
    cwd="/w/proj/sub", home="/home/u", project_root="/w/proj", task_id="tsk_1", project_id="prj_1"
)


@pytest.mark.parametrize(
    ("scope", "ref", "applies"),
    [
        ("global", None, True),
        ("task", "tsk_1", True),
        ("task", "tsk_2", False),
        ("project", "prj_1", True),
        ("project", "prj_2", False),
    ],
)
def test_a_rule_applies_within_its_scope(scope: str, ref: str | None, applies: bool) -> None:
    rule = PermissionRule("Read", scope=scope, scope_ref=ref)  # type: ignore[arg-type]
    assert rule.applies_in(CTX) is applies


def test_a_scoped_rule_never_applies_where_no_task_or_project_is_known() -> None:
    bare = MatchContext(cwd="/w", home="/h")
    assert not PermissionRule("Read", scope="task", scope_ref="tsk_1").applies_in(bare)
    assert not PermissionRule("Read", scope="project", scope_ref="prj_1").applies_in(bare)


def test_an_unknown_effect_or_scope_is_refused_naming_the_rule() -> None:
    with pytest.raises(ValidationError, match=r"^Rule `Read`: effect 'maybe' is not one of"):
        PermissionRule("Read", effect="maybe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"^Rule `Read`: scope 'team' is not one of"):
        PermissionRule("Read", scope="team", scope_ref="x")  # type: ignore[arg-type]


def test_constructing_a_rule_normalises_it() -> None:
    rule = PermissionRule("WebFetch", "domain:Example.COM")
    assert rule.specifier == "domain:example.com"
    assert PermissionRule("Bash", "*").text == "Bash"


def test_two_rules_are_the_same_rule_whatever_their_source_and_id() -> None:
    a = PermissionRule.from_text("Bash(ls *)", source="user", id="1")
    b = PermissionRule.from_text("Bash(ls  *)".replace("  ", " "), source="preset:x", id="9")
    assert a.key == b.key
    assert a.key != PermissionRule.from_text("Bash(ls *)", "deny").key
    assert a.key != PermissionRule.from_text("Bash(ls *)", scope="task", scope_ref="t").key


def test_a_tool_policy_builds_denies_before_allows_labelled_by_profile() -> None:
    policy = ToolPolicy("reviewer", auto_approve=("Read", "Grep"), auto_deny=("Bash",))
    assert [(r.text, r.effect) for r in policy.rules] == [
        ("Bash", "deny"),
        ("Read", "allow"),
        ("Grep", "allow"),
    ]
    assert {r.source for r in policy.rules} == {"profile:reviewer"}
    assert policy.rules[0].label() == "profile reviewer policy `Bash`"


def test_a_bad_tool_policy_entry_names_the_profile() -> None:
    with pytest.raises(ValidationError) as caught:
        ToolPolicy("reviewer", auto_approve=("Write(./x)",))
    assert caught.value.message.startswith("Profile 'reviewer' tool policy: Rule `Write(./x)`")
    assert caught.value.hint and "Edit(./x)" in caught.value.hint


@pytest.mark.parametrize("field", ["cwd", "home", "project_root", "settings_dir"])
def test_a_match_context_needs_absolute_paths(field: str) -> None:
    paths = {"cwd": "/w", "home": "/h", field: "relative/dir"}
    with pytest.raises(ValidationError, match=f"MatchContext.{field} must be an absolute path"):
        MatchContext(**paths)  # type: ignore[arg-type]


def matches(text: str, effect: str, tool: str, path: str, ctx: MatchContext = CTX) -> bool:
    rule = PermissionRule.from_text(text, effect)  # type: ignore[arg-type]
    return rule.matches(ToolCall(tool, {"file_path": path}), ctx)


@pytest.mark.parametrize(
    ("rule", "effect", "path", "expected"),
    [
        ("Read(./notes.md)", "allow", "notes.md", True),  # cwd-relative
        ("Read(./notes.md)", "allow", "/w/proj/notes.md", False),
        ("Read(/docs/**)", "allow", "/w/proj/docs/a/b.md", True),  # project-anchored
        ("Read(/docs/**)", "allow", "/w/proj/sub/docs/a.md", False),
        ("Read(~/notes/*.md)", "allow", "~/notes/a.md", True),
        ("Read(~/notes/*.md)", "allow", "~/notes/deep/a.md", False),  # * stays in one segment
        ("Read(//etc/hosts)", "deny", "/etc/hosts", True),
        ("Read(*.md)", "allow", "deep/er/a.md", True),  # slash-less: any depth
        ("Read(src/*.py)", "allow", "lib/src/a.py", False),
        (
            "Read(src/*.py)",
            "deny",
            "lib/src/a.py",
            True,
        ),  # deny: a one-directory pattern, any depth
        ("Read(file?.txt)", "allow", "file1.txt", True),
        ("Read(file?.txt)", "allow", "file10.txt", False),
        ("Read(file[0-3].txt)", "allow", "file2.txt", True),
        ("Read(file[!0-3].txt)", "allow", "file2.txt", False),
        ("Read(./.env)", "deny", ".ENV", True),  # deny ignores case
        ("Read(./.env)", "allow", ".ENV", False),
        ("Read(./secrets/)", "deny", "secrets/a/b", True),  # a trailing slash: everything inside
        ("Read(./build)", "deny", "build/out/x.o", True),  # deny covers what is inside a match
        ("Read(./build)", "allow", "build/out/x.o", False),
        ("Read(./a\\*b)", "allow", "a*b", True),
        ("Read(./a\\*b)", "allow", "axb", False),
        ("Read(.)", "allow", "anything/at/all", True),
    ],
)
def test_path_rules_anchor_and_glob_like_claude_code(
    rule: str, effect: str, path: str, expected: bool
) -> None:
    assert matches(rule, effect, "Read", path) is expected


def test_an_input_path_is_normalised_before_matching() -> None:
    assert matches("Read(//etc/**)", "deny", "Read", "../../../../etc/shadow")
    assert not matches("Read(./src/**)", "allow", "Read", "src/../../escape")


def test_read_deny_covers_edits_but_read_allow_does_not() -> None:
    assert matches("Read(./.env)", "deny", "Write", ".env")
    assert not matches("Read(./.env)", "allow", "Write", ".env")
    assert matches("Edit(./src/**)", "allow", "MultiEdit", "src/a.py")
    assert not matches("Edit(./src/**)", "allow", "Read", "src/a.py")


def test_every_path_of_a_multi_file_change_needs_the_allow() -> None:
    rule = PermissionRule.from_text("Edit(./src/**)")
    inside = ToolCall("Edit", {"changes": [{"path": "src/a"}, {"path": "src/b"}]})
    partly = ToolCall("Edit", {"changes": {"src/a": {}, "README": {}}})
    assert rule.matches(inside, CTX)
    assert not rule.matches(partly, CTX)
    deny = PermissionRule.from_text("Edit(./README)", "deny")
    assert deny.matches(partly, CTX)


def test_a_directory_tool_without_a_path_is_about_the_cwd() -> None:
    assert PermissionRule.from_text("Read(./**)").matches(ToolCall("Glob", {"pattern": "*"}), CTX)
    assert not PermissionRule.from_text("Read(/other/**)").matches(ToolCall("LS", {}), CTX)


def test_a_settings_dir_moves_the_project_anchor() -> None:
    ctx = MatchContext(cwd="/w/proj", home="/h", project_root="/w/proj", settings_dir="/w/conf")
    assert matches("Read(/x.md)", "allow", "Read", "/w/conf/x.md", ctx)
    assert not matches("Read(/x.md)", "allow", "Read", "/w/proj/x.md", ctx)


@pytest.mark.parametrize(
    ("url", "rule", "expected"),
    [
        ("https://docs.example.com/a", "WebFetch(domain:*.example.com)", True),
        ("https://example.com/a", "WebFetch(domain:*.example.com)", False),
        ("https://EXAMPLE.com./a", "WebFetch(domain:example.com)", True),
        ("https://evil.com\\@example.com/", "WebFetch(domain:example.com)", False),
        ("https://evil.com\\@example.com/", "WebFetch(domain:evil.com)", True),
        ("https://user:pw@example.com:8443/x", "WebFetch(domain:example.com)", True),
        ("not a url at all", "WebFetch(domain:example.com)", False),
        ("https://any.where/", "WebFetch(domain:*)", True),
    ],
)
def test_domain_rules_read_the_host_as_a_browser_does(url: str, rule: str, expected: bool) -> None:
    call = ToolCall("WebFetch", {"url": url})
    assert PermissionRule.from_text(rule).matches(call, CTX) is expected


def test_a_fetch_without_a_url_matches_no_domain_rule() -> None:
    assert not PermissionRule.from_text("WebFetch(domain:*)").matches(ToolCall("WebFetch", {}), CTX)


@pytest.mark.parametrize(
    ("rule", "tool_input", "expected"),
    [
        ("Agent(model:opus)", {"model": "OPUS"}, True),  # values ignore case
        ("Agent(model:opus*)", {"model": "opus-4"}, True),
        ("Agent(model:opus)", {}, False),
        ("Bash(run_in_background:true)", {"command": "x", "run_in_background": True}, True),
        ("Bash(run_in_background:true)", {"command": "x", "run_in_background": False}, False),
        ("mcp__db__query(limit:10)", {"limit": 10}, True),
    ],
)
def test_input_parameter_rules_compare_the_value_as_text(
    rule: str, tool_input: dict[str, object], expected: bool
) -> None:
    parsed = PermissionRule.from_text(rule, "deny")
    tool = parsed.tool if parsed.tool != "Agent" else "Task"
    assert parsed.matches(ToolCall(tool, tool_input), CTX) is expected


def test_subagent_and_skill_rules_name_what_is_started() -> None:
    explore = PermissionRule.from_text("Agent(Explore)")
    assert explore.matches(ToolCall("Task", {"subagent_type": "Explore"}), CTX)
    assert not explore.matches(ToolCall("Task", {"subagent_type": "Plan"}), CTX)
    skill = PermissionRule.from_text("Skill(pdf*)")
    assert skill.matches(ToolCall("Skill", {"skill": "/pdf-tools"}), CTX)
    assert skill.matches(ToolCall("Skill", {"command": "pdf"}), CTX)
    assert not skill.matches(ToolCall("Skill", {"skill": "docx"}), CTX)


@pytest.mark.parametrize(
    ("rule", "effect", "tool", "applies"),
    [
        ("mcp__github", "allow", "mcp__github__get_issue", True),
        ("mcp__github", "allow", "mcp__githubx__a", False),
        ("mcp__github__get_*", "allow", "mcp__github__get_issue", True),
        ("mcp__github__get_*", "allow", "mcp__github__put_issue", False),
        ("mcp__*", "deny", "mcp__any__thing", True),
        ("*", "deny", "Read", True),
        ("Read", "allow", "Grep", True),
        ("Read", "allow", "Edit", False),
        ("Read", "deny", "Edit", True),
        ("Edit", "deny", "Read", False),
        ("Task", "allow", "Agent", True),
    ],
)
def test_which_tools_a_rule_is_about(rule: str, effect: str, tool: str, applies: bool) -> None:
    assert PermissionRule.from_text(rule, effect).applies_to_tool(tool) is applies  # type: ignore[arg-type]
