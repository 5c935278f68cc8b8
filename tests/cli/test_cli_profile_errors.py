"""A user profile that does not validate: every problem of its two files at once (an unknown
field, a rule of the model, the id against its folder, a field no claimed runtime honours, the
SKILL.md front matter), each at its file and line with a fix of its own, in ``profile show``
(and ``--json``: the one error shape with ``errors``) and ``profile list``, which skips it and
still lists the others."""

from __future__ import annotations

from pathlib import Path

from clitools import Cli

SPEC = """\
id: reviewer
name: Broken reviewer
version: one
domain: work
maxTurn: 5
supportedRuntimes: [claude, codex]
allowedTools: [Read, Gripe]
"""

SKILL = """\
---
name: broken
---
Review the diff.
"""

RUNTIMES = """\
id: broken
name: Broken reviewer
supportedRuntimes: [claude, codex]
model: claude-sonnet-4-6
maxTurns: 5
"""


def _write(cli: Cli, spec: str = SPEC, skill: str = SKILL) -> Path:
    folder = cli.home / "profiles" / "broken"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yaml").write_text(spec)
    (folder / "SKILL.md").write_text(skill)
    return folder


def test_show_lists_every_problem_of_both_files_with_its_own_place_and_fix(cli: Cli) -> None:
    folder = _write(cli)
    spec, skill = folder / "profile.yaml", folder / "SKILL.md"
    result = cli("profile", "show", "broken")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "Error: 5 problems",
        f"  {skill}:2: description: field required",
        "    hint: the front matter needs description; add a line such as "
        "description: Reviews a diff for bugs",
        f"  {spec}:1: id: 'reviewer' does not match its folder name 'broken'",
        "    hint: set id: broken, or rename the folder to reviewer (Claude Code finds a skill "
        "by its folder name)",
        f"  {spec}:3: version: 'one' is not a semantic version",
        "    hint: e.g. version: 1.0.0",
        f"  {spec}:5: maxTurn: unknown field (did you mean maxTurns?)",
        "    hint: the fields here are: id, name, version, domain, tags, supportedRuntimes, "
        "model, allowedTools, canUseToolPolicy, maxTurns, maxBudgetUsd, mcpServers, "
        "runtimeOverrides, tests, author, source, hooks, outputFormat",
        f"  {spec}:7: allowedTools: 'Gripe' is not a Claude Code tool name (Read, Grep, Bash, "
        "WebSearch, ...) or an MCP tool (mcp__server__tool)",
        "    hint: fix or remove 'Gripe'; tool names are case-sensitive, e.g. allowedTools: "
        "[Read, Grep, Bash]",
    ]
    body = cli.json("profile", "show", "broken", expect_exit=1)
    assert (body["code"], body["status"]) == ("invalid_input", 422)
    assert [(e["file"], e["line"], e["field"]) for e in body["errors"]] == [
        (str(skill), 2, "description"),
        (str(spec), 1, "id"),
        (str(spec), 3, "version"),
        (str(spec), 5, "maxTurn"),
        (str(spec), 7, "allowedTools"),
    ]
    assert all(e["hint"] for e in body["errors"])


def test_list_skips_the_broken_profile_naming_each_problem_and_lists_the_rest(cli: Cli) -> None:
    folder = _write(cli)
    listed = cli("profile", "list")
    assert listed.exit_code == 0, listed.output
    assert "researcher" in listed.stdout and "broken" not in listed.stdout
    lines = listed.stderr.splitlines()
    assert lines[0] == "skipped user profile broken: 5 problems"
    assert f"  {folder / 'profile.yaml'}:3: version: 'one' is not a semantic version" in lines
    assert "    hint: e.g. version: 1.0.0" in lines
    assert len([line for line in lines if line.startswith("    hint: ")]) == 5


def test_every_runtime_problem_of_a_valid_spec_comes_at_once(cli: Cli) -> None:
    folder = _write(
        cli, RUNTIMES, SKILL.replace("name: broken\n", "name: broken\ndescription: d\n")
    )
    spec = folder / "profile.yaml"
    result = cli("profile", "show", "broken")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "Error: 2 problems",
        f"  {spec}:4: model: 'claude-sonnet-4-6' is not a codex model",
        "    hint: set the model per runtime under runtimeOverrides.codex.model",
        f"  {spec}:5: maxTurns: has no effect on codex: it has no turn limit",
        "    hint: set maxTurns under runtimeOverrides of the runtimes that honour it (claude), "
        "or drop codex from supportedRuntimes",
    ]


def test_one_problem_is_one_line_with_its_fix(cli: Cli) -> None:
    fixed = RUNTIMES.replace("maxTurns: 5\n", "").replace("model: claude-sonnet-4-6\n", "")
    folder = _write(
        cli, fixed + "hooks: [x]\n", SKILL.replace("name: broken\n", "name: b\ndescription: d\n")
    )
    result = cli("profile", "show", "broken")
    assert result.stderr.splitlines() == [
        f"Error: {folder / 'profile.yaml'}:4: hooks: is refused: Stagent does not run profile "
        "hooks",
        "hint: remove hooks (permission rules and canUseToolPolicy decide tool calls)",
    ]


def test_runtime_problems_come_with_the_field_problems(cli: Cli) -> None:
    skill = SKILL.replace("name: broken\n", "name: broken\ndescription: d\n")
    folder = _write(cli, RUNTIMES.replace("name: Broken reviewer\n", "name: ''\n"), skill)
    body = cli.json("profile", "show", "broken", expect_exit=1)
    assert [(e["line"], e["field"], e["message"]) for e in body["errors"]] == [
        (2, "name", "is empty"),
        (4, "model", "'claude-sonnet-4-6' is not a codex model"),
        (5, "maxTurns", "has no effect on codex: it has no turn limit"),
    ]
    assert {e["file"] for e in body["errors"]} == {str(folder / "profile.yaml")}


def test_a_field_that_is_itself_wrong_is_not_checked_again_per_runtime(cli: Cli) -> None:
    skill = SKILL.replace("name: broken\n", "name: broken\ndescription: d\n")
    _write(cli, RUNTIMES.replace("maxTurns: 5", "maxTurns: 0"), skill)
    body = cli.json("profile", "show", "broken", expect_exit=1)
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("model", "'claude-sonnet-4-6' is not a codex model"),
        ("maxTurns", "0 is out of range (1 to 500)"),
    ]
    # a misspelt runtime leaves which runtimes are claimed unknown: no runtime guesses
    _write(cli, RUNTIMES.replace("[claude, codex]", "[claude, codx]"), skill)
    body = cli.json("profile", "show", "broken", expect_exit=1)
    assert [e["field"] for e in body["errors"]] == ["supportedRuntimes"]


def test_a_yaml_syntax_error_is_one_problem_beside_the_other_files_problems(cli: Cli) -> None:
    """A ``profile.yaml`` that is not YAML is one placed problem with what to check, and the
    SKILL.md's problems still come with it; a second broken profile keeps its own list."""
    folder = _write(cli, "id: broken\nname: [Broken reviewer\ndomain: work\n")
    spec, skill = folder / "profile.yaml", folder / "SKILL.md"
    result = cli("profile", "show", "broken")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "Error: 2 problems",
        f"  {skill}:2: description: field required",
        "    hint: the front matter needs description; add a line such as "
        "description: Reviews a diff for bugs",
        f"  {spec}:3: profile: is not valid YAML: did not find expected ',' or ']'",
        "    hint: close the [ or { opened at line 2, column 7",
    ]
    other = cli.home / "profiles" / "other"
    other.mkdir()
    (other / "profile.yaml").write_text("id: other\nname: Other\nmax_turns: 0\n")
    (other / "SKILL.md").write_text("---\nname: other\ndescription: Fix: a bug\n---\nGo.\n")
    listed = cli("profile", "list")
    assert listed.exit_code == 0, listed.output
    assert "researcher" in listed.stdout
    lines = listed.stderr.splitlines()
    assert "skipped user profile broken: 2 problems" in lines
    assert "skipped user profile other: 2 problems" in lines
    assert (
        f"  {other / 'SKILL.md'}:3: front matter: is not valid YAML: mapping values are not "
        "allowed in this context"
    ) in lines
    assert (
        "    hint: a value that holds ': ' needs quotes (description: \"Fix: a bug\"), and keys "
        "of one mapping line up under each other"
    ) in lines
    assert f"  {other / 'profile.yaml'}:3: max_turns: 0 is out of range (1 to 500)" in lines


def test_a_missing_skill_file_comes_with_the_spec_files_problems(cli: Cli) -> None:
    folder = _write(cli)
    (folder / "SKILL.md").unlink()
    body = cli.json("profile", "show", "broken", expect_exit=1)
    spec = str(folder / "profile.yaml")
    assert [(e["file"], e["line"], e["field"], e["message"]) for e in body["errors"]][:3] == [
        (str(folder / "SKILL.md"), None, "SKILL.md", "is missing"),
        (spec, 1, "id", "'reviewer' does not match its folder name 'broken'"),
        (spec, 3, "version", "'one' is not a semantic version"),
    ]
    assert body["errors"][0]["hint"] == "a profile folder holds SKILL.md and profile.yaml"
    assert len(body["errors"]) == 5


SNAKE = """\
id: broken
name: Broken reviewer
supported_runtimes: [claude, codex]
max_turn: 3
allowed_tools: [Read]
runtime_overrides:
  codex:
    max_turns: 4
  claude:
    can_use_tool_policy: {auto_approve: [Bash]}
tests:
  - task: Review it
"""


def test_a_snake_case_file_is_cited_as_it_was_written(cli: Cli) -> None:
    """Fields, fixes and the fields a file lacks are named the way the file spells them."""
    skill = SKILL.replace("name: broken\n", "name: broken\ndescription: d\n")
    folder = _write(cli, SNAKE, skill)
    result = cli("profile", "show", "broken")
    assert result.exit_code == 1, result.output
    spec = folder / "profile.yaml"
    assert result.stderr.splitlines() == [
        "Error: 4 problems",
        f"  {spec}:4: max_turn: unknown field (did you mean max_turns?)",
        "    hint: the fields here are: id, name, version, domain, tags, supported_runtimes, "
        "model, allowed_tools, can_use_tool_policy, max_turns, max_budget_usd, mcp_servers, "
        "runtime_overrides, tests, author, source, hooks, output_format",
        f"  {spec}:8: runtime_overrides.codex.max_turns: has no effect on codex: it has no turn "
        "limit",
        "    hint: set max_turns under runtime_overrides of the runtimes that honour it (claude), "
        "or drop codex from supported_runtimes",
        f"  {spec}:10: runtime_overrides.claude.can_use_tool_policy: approves 'Bash', but "
        "allowed_tools does not include Bash",
        "    hint: add Bash to allowed_tools or remove the entry",
        f"  {spec}:12: tests[0].expected_keywords: field required",
        "    hint: every smoke test needs expected_keywords; add a line such as "
        "expected_keywords: [bug]",
    ]


def test_one_snake_case_key_in_a_camel_case_file_is_cited_as_written(cli: Cli) -> None:
    skill = SKILL.replace("name: broken\n", "name: broken\ndescription: d\n")
    folder = _write(cli, RUNTIMES.replace("maxTurns: 5", "max_turns: 5"), skill)
    body = cli.json("profile", "show", "broken", expect_exit=1)
    assert [(e["line"], e["field"], e["hint"]) for e in body["errors"]] == [
        (4, "model", "set the model per runtime under runtimeOverrides.codex.model"),
        (
            5,
            "max_turns",
            "set max_turns under runtimeOverrides of the runtimes that honour it (claude), "
            "or drop codex from supportedRuntimes",
        ),
    ]
    assert {e["file"] for e in body["errors"]} == {str(folder / "profile.yaml")}


def test_a_failing_snake_case_override_guesses_no_runtime_problem(cli: Cli) -> None:
    skill = SKILL.replace("name: broken\n", "name: broken\ndescription: d\n")
    spec = "id: broken\nname: B\nsupported_runtimes: [claude, codex]\nmax_turns: 5\n"
    _write(cli, spec + "runtime_overrides:\n  codx: {}\n", skill)
    body = cli.json("profile", "show", "broken", expect_exit=1)
    assert [e["field"] for e in body["errors"]] == ["runtime_overrides"]
