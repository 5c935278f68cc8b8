"""Loading one profile folder: the happy path, and errors that name file, field and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_files import SPEC, write_profile

from stagent.domain.errors import ValidationError
from stagent.profiles.loader import load_profile


def test_a_profile_folder_loads_with_instructions_from_the_skill_body(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path), "user")

    assert profile.id == "test-reviewer"
    assert profile.spec.name == "Test Reviewer"
    assert profile.runtimes == ("claude", "codex")
    assert profile.instructions.startswith("# Reviewer")
    assert "report them with file and line" in profile.instructions
    assert profile.skill.description == "Reviews code for a test."
    assert profile.tests[0].expected_keywords == ("bug",)


def test_snake_case_keys_and_the_original_runtime_ids_load(tmp_path: Path) -> None:
    spec = SPEC.replace("supportedRuntimes: [claude, codex]", "supported_runtimes: [claude-code]")
    spec = spec.replace("allowedTools", "allowed_tools")
    profile = load_profile(write_profile(tmp_path, spec=spec), "user")
    assert profile.runtimes == ("claude",)
    assert profile.spec.allowed_tools == ("Read", "Grep", "Glob")


def _error(tmp_path: Path, spec: str | None = None, skill: str | None = None) -> str:
    folder = write_profile(tmp_path, spec=spec, skill=skill)
    with pytest.raises(ValidationError) as info:
        load_profile(folder, "user")
    return info.value.message


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    message = _error(tmp_path, SPEC.replace("tags: [review, code]", "tags: [review, code"))
    assert "profile.yaml:" in message
    assert message.split("profile.yaml:", 1)[1].split(":", 1)[0].isdigit()


@pytest.mark.parametrize(
    ("old", "new", "located"),
    [
        ("domain: work", "domain: office", "profile.yaml:4: domain"),
        ("version: 1.0.0", "version: one", "profile.yaml:3: version"),
        (
            "domain: work",
            "domain: work\ncolour: blue",
            "profile.yaml:5: colour: unknown field",
        ),
        (
            "expectedKeywords: [bug]",
            "expectedKeywords: []",
            "profile.yaml:12: tests[0].expectedKeywords",
        ),
        (
            "allowedTools: [Read, Grep, Glob]",
            "allowedTools: [Read, Gripe]",
            "profile.yaml:7: allowedTools",
        ),
        (
            "autoApprove: [Read, Grep]",
            "autoApprove: [Read, 'Bash(']",
            "profile.yaml:9: canUseToolPolicy.autoApprove",
        ),
        (
            "supportedRuntimes: [claude, codex]",
            "supportedRuntimes: [openai-direct]",
            "profile.yaml:6: supportedRuntimes",
        ),
    ],
)
def test_schema_errors_name_file_line_and_field(
    tmp_path: Path, old: str, new: str, located: str
) -> None:
    message = _error(tmp_path, SPEC.replace(old, new))
    assert located in message, message


def test_hooks_and_output_format_are_refused_not_ignored(tmp_path: Path) -> None:
    hooks = _error(tmp_path / "a", SPEC + "hooks:\n  preToolCall: [lint]\n")
    assert "profile.yaml:13: hooks: is refused: Stagent does not run profile hooks" in hooks
    fmt = _error(tmp_path / "b", SPEC + "outputFormat: structured-findings\n")
    assert "profile.yaml:13: outputFormat: is refused: it would change nothing in a run" in fmt


def test_a_field_a_claimed_runtime_ignores_is_refused_at_its_line(tmp_path: Path) -> None:
    message = _error(tmp_path / "a", SPEC + "maxTurns: 20\n")
    assert "profile.yaml:13: maxTurns: has no effect on codex" in message
    mcp = _error(tmp_path / "b", SPEC + "mcpServers:\n  files: {command: srv}\n")
    assert "mcpServers: has no effect on codex" in mcp


def test_claude_only_fields_are_accepted_under_the_claude_override(tmp_path: Path) -> None:
    spec = SPEC + "runtimeOverrides:\n  claude:\n    maxTurns: 20\n"
    profile = load_profile(write_profile(tmp_path, spec=spec), "user")
    assert profile.options("claude").max_turns == 20
    assert profile.options("codex").max_turns is None


def test_tools_on_the_anthropic_runtime_are_refused_unless_overridden_empty(
    tmp_path: Path,
) -> None:
    claims = SPEC.replace("[claude, codex]", "[claude, anthropic]")
    message = _error(tmp_path / "a", claims)
    assert "allowedTools: has no effect on anthropic: it runs no tools" in message
    fixed = claims + (
        "runtimeOverrides:\n  anthropic:\n    allowedTools: []\n    canUseToolPolicy: {}\n"
    )
    profile = load_profile(write_profile(tmp_path / "b", spec=fixed), "user")
    assert profile.options("anthropic").allowed_tools == ()


def test_an_override_of_an_unclaimed_runtime_is_refused(tmp_path: Path) -> None:
    message = _error(
        tmp_path, SPEC + "runtimeOverrides:\n  anthropic:\n    model: claude-haiku-4-5\n"
    )
    assert "profile.yaml:14: runtimeOverrides.anthropic: overrides anthropic" in message


def test_a_model_of_the_wrong_provider_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, SPEC + "model: claude-sonnet-4-6\n")
    assert "model: 'claude-sonnet-4-6' is not a codex model" in message


def test_approving_a_tool_the_profile_does_not_have_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, SPEC.replace("autoApprove: [Read, Grep]", "autoApprove: [Write]"))
    assert "approves 'Write', but allowedTools does not include Write" in message


def test_id_must_match_the_folder(tmp_path: Path) -> None:
    message = _error(tmp_path, SPEC.replace("id: {id}", "id: other"))
    assert "profile.yaml:1: id: 'other' does not match its folder name" in message


@pytest.mark.parametrize(
    ("skill", "located"),
    [
        ("no front matter\n", "SKILL.md:1: front matter: is missing"),
        ("---\nname: x\n", "SKILL.md:1: front matter: has no closing"),
        ("---\nname: x\ndescription: d\n---\n\n", "SKILL.md:5: instructions: are empty"),
        (
            "---\nname: x\ndescription: d\nmodel: opus\n---\nbody\n",
            "SKILL.md:4: model: unknown field",
        ),
        ("---\nname: x\n---\nbody\n", "SKILL.md:2: description"),
    ],
)
def test_skill_md_errors_are_located(tmp_path: Path, skill: str, located: str) -> None:
    message = _error(tmp_path, skill=skill)
    assert located in message, message
