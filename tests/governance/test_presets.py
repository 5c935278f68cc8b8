"""Trust presets: what each allows, and applying/removing touches only a preset's own rules."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import MatchContext, PermissionRule, ToolCall
from stagent.governance.presets import (
    PRESETS,
    active_presets,
    apply_preset,
    custom_rules,
    preset_rules,
    remove_preset,
    trust_tier,
)
from stagent.governance.rules import evaluate

CTX = MatchContext(cwd="/w", home="/h", project_root="/w", task_id="t1", project_id="p1")


def verdict(rules: list[PermissionRule], tool: str, **tool_input: object) -> str:
    return evaluate(ToolCall(tool, tool_input), rules, CTX).verdict


def texts(rules: list[PermissionRule]) -> list[str]:
    return [r.text for r in rules]


def test_preset_rules_are_allow_rules_tagged_with_their_source() -> None:
    for name in PRESETS:
        rules = preset_rules(name)
        assert rules
        assert {r.source for r in rules} == {f"preset:{name}"}
        assert {r.effect for r in rules} == {"allow"}
        assert len(set(texts(rules))) == len(rules)


def test_presets_are_layered() -> None:
    read_only, git_safe, full_auto = (set(PRESETS[n].rules) for n in PRESETS)
    assert read_only < git_safe < full_auto


COMMIT = "git commit -m \"$(cat <<'EOF'\nAdd parser\nEOF\n)\""


@pytest.mark.parametrize(
    ("preset", "tool", "tool_input", "expected"),
    [
        ("read-only", "Read", {"file_path": "a.py"}, "allow"),
        ("read-only", "Grep", {"pattern": "x"}, "allow"),
        ("read-only", "Bash", {"command": "cat README.md | head -5"}, "allow"),
        ("read-only", "Bash", {"command": "cat a > b"}, "undecided"),
        ("read-only", "Edit", {"file_path": "a.py"}, "undecided"),
        ("read-only", "Bash", {"command": "git status"}, "undecided"),
        ("git-safe", "Edit", {"file_path": "a.py"}, "allow"),
        ("git-safe", "Write", {"file_path": "a.py"}, "allow"),
        ("git-safe", "Bash", {"command": "git status"}, "allow"),
        ("git-safe", "Bash", {"command": "git diff --stat && git log -5"}, "allow"),
        ("git-safe", "Bash", {"command": "git add -A && git commit -m 'x'"}, "allow"),
        ("git-safe", "Bash", {"command": COMMIT}, "allow"),
        ("git-safe", "Bash", {"command": ["bash", "-lc", "git status"]}, "allow"),
        ("git-safe", "Bash", {"command": "git push origin main"}, "undecided"),
        ("git-safe", "Bash", {"command": "git push --force"}, "undecided"),
        ("git-safe", "Bash", {"command": "git branch -D main"}, "undecided"),
        ("git-safe", "Bash", {"command": "git reset --hard"}, "undecided"),
        ("git-safe", "Bash", {"command": "git status; rm -rf x"}, "undecided"),
        ("git-safe", "WebFetch", {"url": "https://x.io"}, "undecided"),
        ("full-auto", "Bash", {"command": "npm install && npm test"}, "allow"),
        ("full-auto", "WebFetch", {"url": "https://x.io"}, "allow"),
        ("full-auto", "NotebookEdit", {"notebook_path": "a.ipynb"}, "allow"),
        ("full-auto", "mcp__github__delete_repo", {}, "undecided"),
        ("full-auto", "AskUserQuestion", {}, "ask"),
    ],
)
def test_what_each_preset_allows(
    preset: str, tool: str, tool_input: dict[str, object], expected: str
) -> None:
    assert verdict(apply_preset([], preset), tool, **tool_input) == expected


def test_apply_is_idempotent() -> None:
    once = apply_preset([], "git-safe")
    assert apply_preset(once, "git-safe") == once


def test_removing_a_preset_keeps_rules_another_active_preset_also_added() -> None:
    rules = apply_preset(apply_preset([], "git-safe"), "full-auto")
    assert active_presets(rules) == ["git-safe", "full-auto"]
    after = remove_preset(rules, "full-auto")
    assert after == apply_preset([], "git-safe")
    assert verdict(after, "Edit", file_path="a.py") == "allow"
    assert verdict(after, "Bash", command="make") == "undecided"


def test_removing_a_preset_keeps_the_users_own_copy_of_a_rule() -> None:
    mine = PermissionRule.from_text("Bash(git status *)", id="7")
    rules = apply_preset([mine], "git-safe")
    assert texts(rules).count("Bash(git status *)") == 2
    after = remove_preset(rules, "git-safe")
    assert after == [mine]
    assert custom_rules(rules) == [mine]


def test_apply_and_remove_respect_the_scope() -> None:
    project = apply_preset([], "read-only", scope="project", scope_ref="p1")
    assert all(r.scope == "project" and r.scope_ref == "p1" for r in project)
    assert remove_preset(project, "read-only") == project
    assert remove_preset(project, "read-only", scope="project", scope_ref="p1") == []
    assert active_presets(project) == []
    assert active_presets(project, scope="project", scope_ref="p1") == ["read-only"]


def test_trust_tier_badge() -> None:
    assert trust_tier([]) == "Custom"
    assert trust_tier(apply_preset([], "read-only")) == "Observer"
    assert trust_tier(apply_preset([], "git-safe")) == "Collaborator"
    both = apply_preset(apply_preset([], "read-only"), "full-auto")
    assert trust_tier(both) == "Autonomous"
    partial = remove_preset(both, "full-auto")[:-1]
    assert trust_tier(partial) == "Custom"


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(ValidationError) as caught:
        apply_preset([], "yolo")
    assert "yolo" in caught.value.message
    assert caught.value.hint == "choose one of: read-only, git-safe, full-auto"
