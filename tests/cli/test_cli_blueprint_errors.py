"""A user blueprint that does not validate: every problem at once (fields, a variable's rule, a
template naming an undeclared variable), each at its line with a fix of its own, in ``blueprint
show`` (and ``--json``: the one error shape with ``errors``) and ``blueprint list``, which
skips it and still lists the others."""

from __future__ import annotations

from clitools import Cli

BROKEN = """\
id: broken
name: Broken
description: Several things wrong at once.
pattern: sequence
version: one
variables:
  - {id: size, type: select}
  - {id: topic, type: text}
steps:
  - name: Gather
    profileId: researcher
    promptTemplate: Research {{topc}} at {{size}}.
  - name: Write
    profile: document-writer
    prompt: Write it up.
    requiresAproval: true
"""


def _write(cli: Cli) -> str:
    folder = cli.home / "blueprints"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "broken.yaml"
    path.write_text(BROKEN)
    return str(path)


def test_show_lists_every_problem_with_its_own_place_and_fix(cli: Cli) -> None:
    path = _write(cli)
    result = cli("blueprint", "show", "broken")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        "Error: 4 problems",
        f"  {path}:5: version: 'one' is not a semantic version",
        "    hint: e.g. version: 1.0.0",
        f"  {path}:7: variables[0]: a select variable needs options",
        "    hint: add options: [{value: small}, {value: large}], or choose another type",
        f"  {path}:12: steps[0].promptTemplate (step Gather): {{{{topc}}}} is not a variable of "
        "this blueprint (it has: size, topic)",
        "    hint: did you mean {{topic}}? or declare it: variables: - {id: topc, type: text}",
        f"  {path}:16: steps[1].requiresAproval (step Write): unknown field (did you mean "
        "requires_approval?)",
        "    hint: the fields here are: id, name, profile, prompt, requires_approval, condition, "
        "expected_output, depends_on, runtime, model",
    ]
    body = cli.json("blueprint", "show", "broken", expect_exit=1)
    assert (body["code"], body["status"]) == ("invalid_input", 422)
    assert [(e["line"], e["field"], e["step"]) for e in body["errors"]] == [
        (5, "version", None),
        (7, "variables[0]", None),
        (12, "steps[0].promptTemplate", "Gather"),
        (16, "steps[1].requiresAproval", "Write"),
    ]
    assert len({e["hint"] for e in body["errors"]}) == 4


def test_list_skips_it_naming_each_problem_and_lists_the_others(cli: Cli) -> None:
    path = _write(cli)
    result = cli("blueprint", "list")
    assert result.exit_code == 0, result.output
    assert "code-review-pipeline" in result.stdout
    lines = result.stderr.splitlines()
    assert lines[0] == "skipped blueprint broken: 4 problems"
    assert lines[1] == f"  {path}:5: version: 'one' is not a semantic version"
    assert lines[2] == "    hint: e.g. version: 1.0.0"
    assert len(lines) == 9


def test_a_blueprint_whose_id_is_not_its_file_name_says_both_fixes(cli: Cli) -> None:
    folder = cli.home / "blueprints"
    folder.mkdir(parents=True)
    fixed = BROKEN.replace("version: one", "version: 1.0.0")
    fixed = fixed.replace("type: select}", "type: select, options: [{value: s}]}")
    fixed = fixed.replace("{{topc}}", "{{topic}}").replace("requiresAproval", "requiresApproval")
    (folder / "mine.yaml").write_text(fixed)
    result = cli("blueprint", "show", "mine")
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"Error: {folder / 'mine.yaml'}:1: id: 'broken' does not match the file name 'mine.yaml'",
        "hint: set id: mine, or rename the file to broken.yaml",
    ]
