"""Workflow definitions: errors name the file, the line, the step and the field, with a fix."""

from __future__ import annotations

import pytest

from stagent.domain.workflow_files import WorkflowDefinitionError, load_definition

GOOD = """\
name: review-and-fix
pattern: sequence
steps:
  - {id: review, name: Review, prompt: "Review the diff", runtime: claude}
  - {id: fix, name: Fix, prompt: "Fix what the review found", runtime: claude,
     requires_approval: true}
"""


def error(text: str) -> WorkflowDefinitionError:
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_definition(text, "wf.yaml")
    return caught.value


def test_the_issue_example_validates() -> None:
    definition = load_definition(GOOD, "wf.yaml")
    assert [s.id for s in definition.steps] == ["review", "fix"]
    assert definition.steps[1].requires_approval


def test_json_works_too() -> None:
    text = (
        '{"name": "j", "pattern": "sequence", "steps": [{"id": "a", "name": "A", "prompt": "p"}]}'
    )
    assert load_definition(text).name == "j"


def test_a_missing_field_names_line_step_and_field() -> None:
    exc = error("name: x\npattern: sequence\nsteps:\n  - id: a\n    name: A\n")
    assert exc.message == "wf.yaml:4: steps[0].prompt (step a): field required"
    assert exc.hint and "prompt" in exc.hint


def test_a_bad_dependency_names_the_line_of_depends_on() -> None:
    text = "name: x\npattern: sequence\nsteps:\n  - {id: a, name: A, prompt: p}\n" + (
        "  - id: b\n    name: B\n    prompt: q\n    depends_on: [zz]\n"
    )
    assert error(text).message.startswith("wf.yaml:8: steps[1].depends_on (step b): ")
    assert "'zz'" in error(text).message


def test_bad_step_options_name_the_option() -> None:
    text = (
        "name: x\npattern: sequence\nsteps:\n  - id: a\n    name: A\n    prompt: p\n"
        "    options: {limits: {max_turns: 0}}\n"
    )
    assert error(text).message.startswith("wf.yaml:7: steps[0].options.limits.max_turns (step a):")


def test_pattern_shape_errors_name_the_steps() -> None:
    text = "name: x\npattern: parallel\nsteps:\n  - {id: a, name: A, prompt: p}\n"
    branches, join = error(text).problems
    assert branches.text().startswith("wf.yaml:4: steps: a parallel workflow needs 2 to 5 branch")
    assert join.text().endswith(
        "needs exactly one synthesis step (the one with depends_on); this one has 0"
    )
    assert (
        branches.hint and "one synthesis step whose depends_on lists every branch" in branches.hint
    )


def test_an_unknown_pattern_lists_the_six() -> None:
    found = error("name: x\npattern: sequense\nsteps:\n  - {id: a, name: A, prompt: p}\n")
    assert (
        found.message == "wf.yaml:2: pattern: 'sequense' is not a pattern (did you mean sequence?)"
    )
    assert found.hint == (
        "pattern is one of: sequence, parallel, checkpoint, planner-executor, loop, swarm"
    )


def test_broken_yaml_names_the_line_and_column() -> None:
    assert error("name: x\nsteps: [\n").message.startswith("wf.yaml:3:1: ")


def test_a_list_is_not_a_definition() -> None:
    assert "must be a mapping" in error("- a\n- b\n").message
