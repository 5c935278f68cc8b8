"""Parsing rules: valid forms, normalization, and refusals whose message names rule, reason, fix."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import Effect, PermissionRule, RuleKind, parse_rule

VALID: list[tuple[str, Effect, RuleKind, str]] = [
    ("Bash", "allow", "tool", "Bash"),
    ("Bash(*)", "allow", "tool", "Bash"),
    ("  Bash( ls * )  ", "allow", "bash", "Bash(ls *)"),
    ("Bash(npm run test:*)", "allow", "bash", "Bash(npm run test:*)"),
    ("Bash(curl http://site.com/:*)", "allow", "bash", "Bash(curl http://site.com/:*)"),
    ("Bash(echo $(date))", "allow", "bash", "Bash(echo $(date))"),
    ("Bash(run_in_background:true)", "deny", "param", "Bash(run_in_background:true)"),
    ("Read(./.env)", "deny", "path", "Read(./.env)"),
    ("Edit(/src/**/*.ts)", "allow", "path", "Edit(/src/**/*.ts)"),
    ("Read(//**/.env)", "deny", "path", "Read(//**/.env)"),
    ("Read(~/.zshrc)", "deny", "path", "Read(~/.zshrc)"),
    ("Edit(src/[abc]*.py)", "allow", "path", "Edit(src/[abc]*.py)"),
    ("WebFetch(domain:example.com)", "allow", "domain", "WebFetch(domain:example.com)"),
    ("WebFetch(domain:*.Example.COM)", "allow", "domain", "WebFetch(domain:*.example.com)"),
    ("mcp__github", "allow", "tool", "mcp__github"),
    ("mcp__github__*", "allow", "tool_glob", "mcp__github__*"),
    ("mcp__github__get_*", "allow", "tool_glob", "mcp__github__get_*"),
    ("mcp__my-server__do.thing", "allow", "tool", "mcp__my-server__do.thing"),
    ("*", "deny", "tool_glob", "*"),
    ("mcp__*", "ask", "tool_glob", "mcp__*"),
    ("Agent(Explore)", "allow", "subagent", "Agent(Explore)"),
    ("Agent(model:opus)", "deny", "param", "Agent(model:opus)"),
    ("Agent(isolation:worktree)", "ask", "param", "Agent(isolation:worktree)"),
    ("Skill(pdf)", "allow", "skill", "Skill(pdf)"),
    ("Write", "allow", "tool", "Write"),
    ("Glob", "allow", "tool", "Glob"),
    ("mcp__db__query(table:users)", "deny", "param", "mcp__db__query(table:users)"),
]


@pytest.mark.parametrize(("text", "effect", "kind", "normalized"), VALID, ids=lambda v: str(v))
def test_valid_forms_parse(text: str, effect: Effect, kind: RuleKind, normalized: str) -> None:
    parsed = parse_rule(text, effect)
    assert parsed.kind == kind
    assert parsed.text == normalized
    assert PermissionRule.from_text(text, effect).text == normalized


REFUSED: list[tuple[str, Effect, str]] = [
    ("Write(./src/**)", "allow", "Write path rules are ignored by Claude Code"),
    ("Write(./src/**)", "deny", "use `Edit(./src/**)`, which also covers Write"),
    ("MultiEdit(src/**)", "allow", "MultiEdit path rules are ignored"),
    ("NotebookEdit(*.ipynb)", "allow", "use `Edit(*.ipynb)`"),
    ("Glob(src/**)", "allow", "use `Read(src/**)`, which also covers Glob and Grep"),
    ("Grep(./secrets/**)", "deny", "Grep path rules are ignored"),
    ("*", "allow", "tool-name globs are only honoured in deny and ask rules"),
    ("mcp__*", "allow", "tool-name globs are only honoured in deny and ask rules"),
    ("Web*", "allow", "tool-name globs are only honoured in deny and ask rules"),
    ("*(ls)", "deny", "a tool-name glob takes no specifier"),
    ("Agent(model:opus)", "allow", "input-parameter rules are only honoured in deny and ask"),
    ("Bash(run_in_background:true)", "allow", "input-parameter rules are only honoured"),
    ("Bash(ls", "allow", "unbalanced"),
    ("Bash(ls))", "allow", "unbalanced"),
    ("Bash(echo (a)", "allow", "unbalanced"),
    ("Bashls)", "allow", "')' without a '('"),
    ("Bash(ls) extra", "allow", "text follows the closing ')'"),
    ("Bash()", "allow", "the specifier is empty"),
    ("Read(   )", "deny", "write `Read` to match every use"),
    ("Bash(npm:* test)", "allow", "':*' wildcard is only valid at the end"),
    ("Read(~bob/.ssh/**)", "deny", "'~user' anchors are not supported"),
    ("Read(../secrets/**)", "deny", "'..' segments are not allowed"),
    ("Edit(C:\\Users\\me\\**)", "allow", "Windows paths"),
    ("Read(///etc/passwd)", "deny", "exactly two slashes"),
    ("Read(!src/**)", "deny", "negation"),
    ("Read(src//a)", "deny", "empty or '.' segment"),
    ("WebFetch(https://example.com)", "allow", "write `WebFetch(domain:example.com)`"),
    ("WebFetch(domain:https://example.com)", "allow", "names a host, not a URL"),
    ("WebFetch(domain:example.com:443)", "allow", "takes no port"),
    ("WebFetch(domain:exa mple.com)", "allow", "is not a host name"),
    ("bash(ls *)", "allow", "use `Bash`"),
    ("read", "allow", "use `Read`"),
    ("Ba sh", "allow", "is not a tool name"),
    ("AskUserQuestion", "allow", "always goes to a person"),
    ("AskUserQuestion", "deny", "always goes to a person"),
    ("Cd(/tmp)", "allow", "/cd command"),
    ("WebSearch(cats)", "allow", "WebSearch takes no specifier of this form"),
    ("Agent(bad name!)", "allow", "is not a subagent type"),
]


@pytest.mark.parametrize(("text", "effect", "fragment"), REFUSED, ids=lambda v: str(v))
def test_refused_forms_name_rule_reason_and_fix(text: str, effect: Effect, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PermissionRule.from_text(text, effect)
    message = caught.value.message
    assert fragment in message
    assert f"Rule `{text.strip()}` is refused:" in message
    assert caught.value.hint


def test_empty_rule_is_refused() -> None:
    with pytest.raises(ValidationError, match="empty"):
        parse_rule("   ")


def test_effect_checks_only_apply_when_the_effect_is_known() -> None:
    assert parse_rule("*").kind == "tool_glob"
    assert parse_rule("Agent(model:opus)").kind == "param"


def test_constructor_validates_like_from_text() -> None:
    with pytest.raises(ValidationError, match="Write path rules"):
        PermissionRule("Write", "./src/**")
    rule = PermissionRule("Bash", "*")
    assert rule.specifier is None
    assert rule.text == "Bash"


@pytest.mark.parametrize(
    ("scope", "scope_ref", "fragment"),
    [
        ("task", None, "needs the task id"),
        ("project", "", "needs the project id"),
        ("global", "p1", "a global rule has no scope reference"),
        ("session", None, "is not one of task, project, global"),
    ],
)
def test_scope_and_reference_must_agree(scope: str, scope_ref: str | None, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        PermissionRule("Read", scope=scope, scope_ref=scope_ref)  # type: ignore[arg-type]


def test_unknown_effect_is_refused() -> None:
    with pytest.raises(ValidationError, match="is not one of allow, deny, ask"):
        PermissionRule("Read", effect="maybe")  # type: ignore[arg-type]


def test_rule_label_for_the_audit_trail() -> None:
    """A rule is named by what a person recognises (its scope, text, preset), never its id."""
    saved = PermissionRule.from_text("Bash(rm *)", "deny", id="rul_0123456789ab")
    assert saved.label() == "rule `Bash(rm *)`"
    scoped = PermissionRule.from_text("Edit(./*)", scope="project", scope_ref="prj_1", id="rul_1")
    assert scoped.label() == "project rule `Edit(./*)`"
    assert PermissionRule.from_text("Read", source="preset:read-only").label() == (
        "rule `Read` (preset read-only)"
    )
    assert PermissionRule.from_text("Read", source="import:/x/settings.json").label() == (
        "rule `Read` (imported)"
    )
    policy = PermissionRule.from_text("Read", source="profile:reviewer")
    assert policy.label() == "profile reviewer policy `Read`"
