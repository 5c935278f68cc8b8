"""Policy-level evaluation: AskUserQuestion, deny > ask > allow, profile policy, scopes."""

from __future__ import annotations

from typing import Any

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import (
    Effect,
    MatchContext,
    PermissionRule,
    Scope,
    ToolCall,
    ToolPolicy,
)
from stagent.governance.rules import ASK_USER_REASON, evaluate, match_context
from stagent.runtimes.base import PermissionRequest

CTX = MatchContext(
    cwd="/work/proj", home="/home/u", project_root="/work/proj", task_id="t1", project_id="p1"
)


def rule(
    text: str,
    effect: Effect = "allow",
    *,
    id: str | None = None,
    scope: Scope = "global",
    scope_ref: str | None = None,
) -> PermissionRule:
    return PermissionRule.from_text(text, effect, id=id, scope=scope, scope_ref=scope_ref)


def bash(command: str) -> ToolCall:
    return ToolCall("Bash", {"command": command})


ALLOW_EVERYTHING = [
    rule(t)
    for t in (
        "Bash",
        "Read",
        "Edit",
        "Write",
        "Glob",
        "Grep",
        "WebFetch",
        "WebSearch",
        "Agent",
        "TodoWrite",
        "mcp__github",
    )
]


@pytest.mark.parametrize(
    "rules",
    [
        ALLOW_EVERYTHING,
        [rule("*", "deny")],
        [rule("*", "ask")],
        [],
    ],
    ids=["allow-everything", "deny-everything", "ask-everything", "no-rules"],
)
def test_ask_user_question_always_asks_a_person(rules: list[PermissionRule]) -> None:
    call = ToolCall("AskUserQuestion", {"questions": [{"question": "Which?"}]})
    policy = ToolPolicy("p", auto_approve=("Bash",), auto_deny=("*",))
    for profile_policy in (None, policy):
        verdict = evaluate(call, rules, CTX, profile_policy)
        assert verdict.verdict == "ask"
        assert verdict.reason == ASK_USER_REASON
        assert verdict.rule is None


def test_allow_everything_allows_other_tools() -> None:
    for call in (bash("rm -rf /"), ToolCall("Write", {"file_path": "/etc/passwd"})):
        assert evaluate(call, ALLOW_EVERYTHING, CTX).verdict == "allow"


@pytest.mark.parametrize(
    ("command", "expected"),
    [("rm -rf build", "deny"), ("git push origin main", "ask"), ("ls", "allow")],
)
def test_deny_beats_ask_beats_allow_whatever_the_order(command: str, expected: str) -> None:
    rules = [rule("Bash"), rule("Bash(git push *)", "ask"), rule("Bash(rm *)", "deny")]
    for ordering in (rules, rules[::-1]):
        assert evaluate(bash(command), ordering, CTX).verdict == expected


def test_ask_beats_allow_even_when_the_allow_is_more_specific() -> None:
    rules = [rule("Bash(git push origin main)"), rule("Bash(git *)", "ask")]
    assert evaluate(bash("git push origin main"), rules, CTX).verdict == "ask"


def test_first_match_wins_within_an_effect() -> None:
    first = rule("Bash(rm *)", "deny", id="1")
    second = rule("Bash(rm -rf *)", "deny", id="2")
    verdict = evaluate(bash("rm -rf x"), [first, second], CTX)
    assert verdict.rule == first
    assert verdict.reason == "decided by rule `Bash(rm *)`"  # a person reads rules, not ids


def test_no_match_is_undecided() -> None:
    verdict = evaluate(bash("make"), [rule("Bash(ls *)"), rule("Read")], CTX)
    assert verdict.verdict == "undecided"
    assert verdict.rule is None
    assert not verdict.decided


def test_compound_allow_needs_every_part_covered() -> None:
    ls_rule, grep_rule = rule("Bash(ls *)", id="3"), rule("Bash(grep *)", id="4")
    verdict = evaluate(bash("ls -la | grep py"), [ls_rule, grep_rule], CTX)
    assert verdict.verdict == "allow"
    assert verdict.rules == (ls_rule, grep_rule)
    assert verdict.reason == "decided by rule `Bash(ls *)`, rule `Bash(grep *)`"
    partial = evaluate(bash("ls && rm -rf x"), [ls_rule, grep_rule], CTX)
    assert partial.verdict == "undecided"
    assert partial.uncovered == ("rm -rf x",)
    assert "`rm -rf x`" in partial.reason


def test_compound_deny_matches_any_part() -> None:
    rules = [rule("Bash"), rule("Bash(rm *)", "deny")]
    assert evaluate(bash("ls && rm x"), rules, CTX).verdict == "deny"
    assert evaluate(bash("bash -c 'ls; rm x'"), rules, CTX).verdict == "deny"


def test_claude_commit_with_heredoc_is_allowed_by_git_and_cat_rules() -> None:
    command = "git commit -m \"$(cat <<'EOF'\nFix parsing\n\nDon't; rm -rf x\nEOF\n)\""
    rules = [rule("Bash(git commit *)"), rule("Bash(cat *)")]
    assert evaluate(bash(command), rules, CTX).verdict == "allow"


def test_read_deny_blocks_edit_and_write() -> None:
    rules = [rule("Edit"), rule("Read(./.env)", "deny")]
    for tool in ("Edit", "Write", "MultiEdit"):
        assert evaluate(ToolCall(tool, {"file_path": ".env"}), rules, CTX).verdict == "deny"
    assert evaluate(ToolCall("Write", {"file_path": "a.py"}), rules, CTX).verdict == "allow"


def test_multi_file_change_needs_every_path_allowed() -> None:
    rules = [rule("Edit(./src/**)"), rule("Edit(./tests/**)")]
    both = ToolCall("Edit", {"paths": ["src/a.py", "tests/test_a.py"]})
    assert evaluate(both, rules, CTX).verdict == "allow"
    outside = ToolCall("Edit", {"paths": ["src/a.py", "setup.py"]})
    assert evaluate(outside, rules, CTX).uncovered == ("/work/proj/setup.py",)


class TestProfilePolicy:
    def test_auto_deny_beats_a_saved_allow(self) -> None:
        policy = ToolPolicy("reviewer", auto_deny=("Bash(rm *)",))
        verdict = evaluate(bash("rm x"), [rule("Bash")], CTX, policy)
        assert verdict.verdict == "deny"
        assert verdict.reason == "decided by profile reviewer policy `Bash(rm *)`"

    def test_auto_approve_allows(self) -> None:
        policy = ToolPolicy("reviewer", auto_approve=("Read", "Bash(git diff *)"))
        assert evaluate(bash("git diff HEAD"), [], CTX, policy).verdict == "allow"
        verdict = evaluate(ToolCall("Read", {"file_path": "a"}), [], CTX, policy)
        assert verdict.rule is not None
        assert verdict.rule.source == "profile:reviewer"

    def test_saved_deny_and_ask_beat_auto_approve(self) -> None:
        policy = ToolPolicy("reviewer", auto_approve=("Bash",))
        assert evaluate(bash("rm x"), [rule("Bash(rm *)", "deny")], CTX, policy).verdict == "deny"
        assert evaluate(bash("rm x"), [rule("Bash(rm *)", "ask")], CTX, policy).verdict == "ask"

    def test_policy_rules_come_first_within_an_effect(self) -> None:
        policy = ToolPolicy("reviewer", auto_deny=("Bash",))
        verdict = evaluate(bash("rm x"), [rule("Bash(rm *)", "deny", id="9")], CTX, policy)
        assert verdict.rule is not None
        assert verdict.rule.source == "profile:reviewer"

    def test_an_invalid_policy_entry_names_the_profile(self) -> None:
        with pytest.raises(ValidationError, match="Profile 'reviewer' tool policy: Rule `\\*`"):
            ToolPolicy("reviewer", auto_approve=("*",))


class TestScopes:
    @pytest.mark.parametrize(
        ("scope", "scope_ref", "task_id", "project_id", "applies"),
        [
            ("task", "t1", "t1", "p1", True),
            ("task", "t1", "t2", "p1", False),
            ("task", "t1", None, None, False),
            ("project", "p1", "t9", "p1", True),
            ("project", "p1", "t1", "p2", False),
            ("project", "p1", None, None, False),
            ("global", None, "t1", "p1", True),
            ("global", None, None, None, True),
        ],
    )
    def test_scope_decides_whether_a_rule_applies(
        self,
        scope: Scope,
        scope_ref: str | None,
        task_id: str | None,
        project_id: str | None,
        applies: bool,
    ) -> None:
        ctx = MatchContext(cwd="/w", home="/h", task_id=task_id, project_id=project_id)
        saved = rule("Bash(rm *)", "deny", scope=scope, scope_ref=scope_ref)
        verdict = evaluate(bash("rm x"), [saved], ctx)
        assert verdict.verdict == ("deny" if applies else "undecided")

    def test_a_task_scoped_allow_does_not_leak_to_other_tasks(self) -> None:
        saved = [rule("Bash(make *)", scope="task", scope_ref="t1")]
        other = MatchContext(cwd="/w", home="/h", task_id="t2", project_id="p1")
        assert evaluate(bash("make"), saved, CTX).verdict == "allow"
        assert evaluate(bash("make"), saved, other).verdict == "undecided"


def test_runtime_permission_requests_are_evaluated_directly() -> None:
    request = PermissionRequest(
        task_id="t1", runtime="codex", tool="Bash", input={"command": ["bash", "-lc", "ls -la"]}
    )
    assert evaluate(request, [rule("Bash(ls *)")], CTX).verdict == "allow"


def test_match_context_fills_in_home(tmp_path: Any) -> None:
    ctx = match_context(tmp_path, project_root=tmp_path, task_id="t1")
    assert ctx.cwd == str(tmp_path)
    assert ctx.home
    assert ctx.task_id == "t1"
    assert match_context("/w", home="/h").home == "/h"
