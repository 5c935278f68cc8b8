"""The workflow editor's two views hold one definition: form <-> YAML keeps every value (also
keys the form has no field for), and errors land on the field or line they are about."""

from __future__ import annotations

from typing import Any

import pytest

from stagent.domain.workflow_files import WorkflowDefinitionError, load_definition, parse_definition
from stagent.domain.workflows import PATTERNS
from stagent.web.ui import workflow_editor as editor


def form_of(state: editor.EditorState) -> dict[str, str]:
    """What the browser posts for a rendered form view."""
    form = {
        "mode": "form",
        "name": state.name,
        "pattern": state.pattern,
        "extra": state.extra,
        "step_count": str(len(state.steps)),
        **state.settings,
    }
    for index, step in enumerate(state.steps):
        for key, value in step.values.items():
            form[f"steps-{index}-{key}"] = value
        if step.requires_approval:
            form[f"steps-{index}-requires_approval"] = "1"
        form[f"steps-{index}-extra"] = step.extra
    return form


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_survives_form_yaml_form(pattern: str) -> None:
    data = editor.starter(pattern)
    definition = parse_definition(data)
    state = editor.state_from_data(data, mode="form")
    back = editor.data_from_form(form_of(state))
    assert parse_definition(back) == definition
    text = editor.to_yaml(back)
    assert load_definition(text) == definition
    again = editor.state_from_data(editor.data_from_yaml(text), mode="form")
    assert editor.data_from_form(form_of(again)) == back


def test_fields_the_form_does_not_show_travel_in_hidden_fields() -> None:
    data: dict[str, Any] = {
        "name": "lineage",
        "pattern": "loop",
        "blueprint": {"id": "bp", "version": 2},
        "loop": {"max_iterations": 3, "time_budget_seconds": 90.5},
        "steps": [
            {
                "id": "it",
                "name": "It",
                "prompt": "line one\nline two",
                "retry": {"attempts": 3, "backoff_seconds": 2},
                "timeout_seconds": 30,
                "options": {"scripted": {"scenario": {"steps": [{"text": "x"}], "result": "ok"}}},
            }
        ],
    }
    back = editor.data_from_form(form_of(editor.state_from_data(data, mode="form")))
    assert back == data
    assert "prompt: |-\n" in editor.to_yaml(back)  # multi-line prompts stay readable


def test_errors_point_at_the_form_field_with_the_cli_message() -> None:
    form = form_of(editor.state_from_data(editor.starter("swarm"), mode="form"))
    form["swarm.worker_concurrency"] = "9"
    form["steps-2-prompt"] = ""
    with pytest.raises(WorkflowDefinitionError) as caught:
        editor.validate("form", form)
    data = editor.data_from_form(form)
    with pytest.raises(WorkflowDefinitionError) as same:
        parse_definition(data, source="definition")
    assert caught.value.message == same.value.message
    state = editor.with_error(editor.state_from_form(form), caught.value)
    assert caught.value.message.startswith("2 problems: ")
    prompt, limit = caught.value.problems
    assert prompt.text() == "definition: steps[2].prompt (step worker-2): field required"
    assert state.error_for("steps[2].prompt") == prompt.text()
    assert state.hint_for("steps[2].prompt") == (
        "every step needs prompt; add a line such as prompt: Review the diff and list problems"
    )
    assert state.error_for("swarm.worker_concurrency") == limit.text()
    assert "9 is out of range (1 to 2, at most the number of workers)" in limit.text()


def test_a_yaml_error_shows_its_line() -> None:
    text = (
        "name: x\npattern: sequence\nsteps:\n"
        "  - id: a\n    name: A\n    prompt: p\n    depends_on: [zz]\n"
    )
    with pytest.raises(WorkflowDefinitionError) as caught:
        editor.validate("yaml", {"yaml": text})
    assert caught.value.line == 7
    state = editor.with_error(editor.EditorState(mode="yaml", yaml_text=text), caught.value)
    assert state.error_line == 7
    assert (7, "    depends_on: [zz]") in state.excerpt


def test_numbers_that_are_not_numbers_are_named() -> None:
    form = form_of(editor.state_from_data(editor.starter("loop"), mode="form"))
    form["loop.max_iterations"] = "many"
    with pytest.raises(WorkflowDefinitionError) as caught:
        editor.validate("form", form)
    assert caught.value.field == "loop.max_iterations"
    state = editor.with_error(editor.state_from_form(form), caught.value)
    assert "loop.max_iterations" in state.errors
    assert state.setting("loop.max_iterations") == "many"  # what the person typed stays


def test_bad_options_yaml_names_the_step_field() -> None:
    form = form_of(editor.state_from_data(editor.starter("sequence"), mode="form"))
    form["steps-1-options"] = "model: [oops"
    with pytest.raises(WorkflowDefinitionError) as caught:
        editor.data_from_form(form)
    assert caught.value.field == "steps[1].options"


def test_a_pattern_change_replaces_only_untouched_steps() -> None:
    form = form_of(editor.state_from_data(editor.starter("sequence"), mode="form"))
    assert editor.is_untouched(form)
    form["steps-0-prompt"] = "my own words"
    assert not editor.is_untouched(form)


def test_roles_follow_the_pattern() -> None:
    assert [editor.role("swarm", i, 4) for i in range(4)] == [
        "Mayor",
        "Worker",
        "Worker",
        "Refinery",
    ]
    assert editor.role("planner-executor", 0, 2) == "Planner"
