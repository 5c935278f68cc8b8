"""Workflow definitions, pattern by pattern: what each shape accepts, and for what it refuses, the
message a person reads (file, line, field, step) plus the ``field``/``line`` an editor places."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from stagent.domain.workflow_files import (
    WorkflowDefinitionError,
    load_definition,
    parse_definition,
    read_text,
)
from stagent.domain.workflows import PATTERNS, WorkflowDefinition


def step(sid: str, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "name": sid.upper(), "prompt": f"do {sid}", **extra}


FORK = [step("a"), step("b"), step("j", depends_on=["a", "b"])]


def definition(pattern: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "wf", "pattern": pattern, "steps": steps, **extra}


def refused(data: Any, source: str = "wf.yaml") -> WorkflowDefinitionError:
    with pytest.raises(WorkflowDefinitionError) as caught:
        parse_definition(data, source=source)
    assert caught.value.problems and all(p.hint for p in caught.value.problems)
    assert caught.value.to_dict()["code"] == "invalid_input"
    return caught.value


def yaml_refused(text: str) -> WorkflowDefinitionError:
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_definition(text, "wf.yaml")
    return caught.value


VALID: list[dict[str, Any]] = [
    definition("sequence", [step("a")]),
    definition("checkpoint", [step("a", requires_approval=True), step("b")]),
    definition(
        "parallel",
        [step("a"), step("b"), step("join", depends_on=["b", "a"])],
        parallel={"max_concurrency": 2, "on_branch_failure": "synthesize"},
    ),
    definition("planner-executor", [step("plan"), step("exec")]),
    definition("loop", [step("it")], loop={"max_iterations": 3}),
    definition(
        "swarm",
        [step("mayor"), step("w1"), step("w2"), step("w3"), step("refinery")],
        swarm={"worker_concurrency": 3},
    ),
]


@pytest.mark.parametrize("data", VALID, ids=lambda d: d["pattern"])
def test_each_pattern_has_a_valid_shape(data: dict[str, Any]) -> None:
    parsed = parse_definition(data)
    assert parsed.pattern == data["pattern"]
    assert [s.id for s in parsed.steps] == [s["id"] for s in data["steps"]]
    assert {d["pattern"] for d in VALID} == set(PATTERNS)


def test_a_definition_round_trips_through_json() -> None:
    for data in VALID:
        parsed = parse_definition(data)
        again = load_definition(parsed.model_dump_json(exclude_none=True))
        assert again == parsed


def test_step_defaults_are_one_try_no_gate_no_condition() -> None:
    (only,) = parse_definition(definition("sequence", [step("a")])).steps
    assert (only.retry.attempts, only.retry.backoff_seconds) == (1, 0)
    assert not only.requires_approval
    assert only.condition is None and only.timeout_seconds is None and only.depends_on == ()


@pytest.mark.parametrize(
    ("data", "message", "field"),
    [
        (
            definition("parallel", [step("a"), step("j", depends_on=["a"])]),
            "steps: a parallel workflow needs 2 to 5 branches (steps without depends_on); "
            "this one has 1",
            "steps",
        ),
        (
            definition(
                "parallel", [step(c) for c in "abcdef"] + [step("j", depends_on=list("abcdef"))]
            ),
            "steps: a parallel workflow needs 2 to 5 branches (steps without depends_on); "
            "this one has 6",
            "steps",
        ),
        (
            definition("parallel", [step("a"), step("b")]),
            "steps: a parallel workflow needs exactly one synthesis step (the one with "
            "depends_on); this one has 0",
            "steps",
        ),
        (
            definition(
                "parallel",
                [step("a"), step("b"), step("j", depends_on=["a"]), step("k", depends_on=["b"])],
            ),
            "steps: a parallel workflow needs exactly one synthesis step (the one with "
            "depends_on); this one has 2",
            "steps",
        ),
        (
            definition("planner-executor", [step("plan")]),
            "steps: a planner-executor workflow needs a planner step and at least one executor "
            "step",
            "steps",
        ),
        (
            definition("loop", [step("a"), step("b")], loop={"max_iterations": 2}),
            "steps: a loop has exactly one step, the one each iteration runs; this one has 2",
            "steps",
        ),
        (
            definition("loop", [step("a")]),
            "loop: a loop workflow needs loop settings with max_iterations",
            "loop",
        ),
        (
            definition("swarm", [step("m"), step("w"), step("r")]),
            "steps: a swarm needs a mayor, 2 to 5 workers and a refinery; this one has 1 workers",
            "steps",
        ),
        (
            definition("swarm", [step("m"), step("w1"), step("w2", depends_on=["w1"]), step("r")]),
            "steps[2].depends_on (step w2): a swarm's steps have no depends_on "
            "(mayor -> workers -> refinery is fixed)",
            "steps[2].depends_on",
        ),
        (
            definition(
                "swarm",
                [step("m"), step("w1"), step("w2"), step("r")],
                swarm={"worker_concurrency": 3},
            ),
            "swarm.worker_concurrency: 3 is more than the 2 workers",
            "swarm.worker_concurrency",
        ),
        (
            definition("sequence", [step("a")], loop={"max_iterations": 2}),
            "loop: settings for the loop pattern in a sequence workflow",
            "loop",
        ),
        (
            definition("loop", [step("a")], loop={"max_iterations": 2}, parallel={}),
            "parallel: settings for the parallel pattern in a loop workflow",
            "parallel",
        ),
    ],
)
def test_a_pattern_shape_error_names_its_setting(
    data: dict[str, Any], message: str, field: str
) -> None:
    error = refused(data)
    assert error.message == f"wf.yaml: {message}"
    assert error.field == field
    assert error.line is None  # no text given: no line


def test_the_join_must_depend_on_every_branch_and_names_the_join() -> None:
    error = refused(
        definition("parallel", [step("a"), step("b"), step("c"), step("j", depends_on=["a", "b"])])
    )
    assert error.message == (
        "wf.yaml: steps[3].depends_on (step j): the synthesis step must depend on every branch once"
    )
    assert error.field == "steps[3].depends_on"


@pytest.mark.parametrize(
    ("steps", "message", "field"),
    [
        (
            [step("a"), step("a")],
            "wf.yaml: steps[1].id (step a): another step already has the id 'a' (steps[0].id)",
            "steps[1].id",
        ),
        (
            [step("a", depends_on=["a"])],
            "wf.yaml: steps[0].depends_on (step a): a step cannot depend on itself",
            "steps[0].depends_on",
        ),
        (
            [step("a"), step("b", condition="steps.b.status == completed")],
            "wf.yaml: steps[1].condition (step b): names step 'b', not another step",
            "steps[1].condition",
        ),
    ],
)
def test_cross_step_errors_name_the_step(
    steps: list[dict[str, Any]], message: str, field: str
) -> None:
    error = refused(definition("sequence", steps))
    assert error.message == message
    assert error.field == field


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"id": "Review"}, "steps[0].id", "must be lowercase letters"),
        ({"id": "-a"}, "steps[0].id", "must be lowercase letters"),
        ({"id": "a" * 65}, "steps[0].id", "at most 64"),
        ({"name": ""}, "steps[0].name", "is empty"),
        ({"prompt": ""}, "steps[0].prompt", "is empty"),
        ({"retry": {"attempts": 11}}, "steps[0].retry.attempts", "out of range (1 to 10)"),
        ({"retry": {"attempts": 0}}, "steps[0].retry.attempts", "out of range (1 to 10)"),
        ({"retry": {"backoff_seconds": -1}}, "steps[0].retry.backoff_seconds", "(0 to 3600)"),
        ({"timeout_seconds": 0}, "steps[0].timeout_seconds", "(more than 0 to 604800)"),
        ({"condition": "previous.output"}, "steps[0].condition", "expected ==, !=, contains"),
        ({"colour": "red"}, "steps[0].colour", "unknown field"),
        (
            {"approval_timeout_seconds": 5},
            "steps[0].approval_timeout_seconds",
            "requires_approval is not",
        ),
        ({"options": {"limits": {"max_turns": 0}}}, "steps[0].options.limits.max_turns", "greater"),
        ({"options": {"nope": 1}}, "steps[0].options.nope", "not a run option"),
        (
            {"runtime": "claude", "options": {"codex": {"sandbox": "read-only"}}},
            "steps[0].options.codex",
            "but this task runs on claude",
        ),
    ],
)
def test_a_bad_step_field_names_the_field_and_the_step(
    bad: dict[str, Any], field: str, words: str
) -> None:
    sid = bad.get("id", "a")
    error = refused(definition("sequence", [{**step("a"), **bad}]))
    assert error.field == field
    assert words in error.message
    step_tag = f" (step {sid})" if isinstance(sid, str) else ""
    assert error.message.startswith(f"wf.yaml: {field}{step_tag}: ")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"pattern": "sequence", "steps": [step("a")]}, "name"),
        ({"name": "", "pattern": "sequence", "steps": [step("a")]}, "name"),
        ({"name": "x" * 101, "pattern": "sequence", "steps": [step("a")]}, "name"),
        ({"name": "n", "steps": [step("a")]}, "pattern"),
        ({"name": "n", "pattern": "sequence"}, "steps"),
        ({"name": "n", "pattern": "sequence", "steps": []}, "steps"),
        ({"name": "n", "pattern": "sequence", "steps": "a"}, "steps"),
        (
            {"name": "n", "pattern": "loop", "steps": [step("a")], "loop": {"max_iterations": 0}},
            "loop.max_iterations",
        ),
        (
            {"name": "n", "pattern": "loop", "steps": [step("a")], "loop": {"max_iterations": 101}},
            "loop.max_iterations",
        ),
        (
            {
                "name": "n",
                "pattern": "parallel",
                "steps": FORK,
                "parallel": {"max_concurrency": 6},
            },
            "parallel.max_concurrency",
        ),
        (
            {
                "name": "n",
                "pattern": "parallel",
                "steps": FORK,
                "parallel": {"on_branch_failure": "ignore"},
            },
            "parallel.on_branch_failure",
        ),
        ({"name": "n", "pattern": "sequence", "steps": [step("a")], "extra": 1}, "extra"),
    ],
)
def test_a_bad_workflow_field_is_named(data: dict[str, Any], field: str) -> None:
    error = refused(data)
    assert error.field == field
    assert error.message.startswith(f"wf.yaml: {field}: ")


@pytest.mark.parametrize("data", [None, [], "name: x", 3])
def test_anything_but_a_mapping_is_refused(data: Any) -> None:
    error = refused(data, source="<request>")
    assert error.message == (
        "<request>: a workflow definition must be a mapping with name, pattern and steps"
    )


def test_lines_point_at_the_field_in_the_yaml() -> None:
    text = (
        "name: review\n"  # 1
        "pattern: sequence\n"  # 2
        "steps:\n"  # 3
        "  - id: a\n"  # 4
        "    name: A\n"  # 5
        "    prompt: p\n"  # 6
        "    retry:\n"  # 7
        "      attempts: 99\n"  # 8
    )
    error = yaml_refused(text)
    assert error.line == 8
    assert error.field == "steps[0].retry.attempts"
    assert error.message.startswith("wf.yaml:8: steps[0].retry.attempts (step a): ")


def test_a_missing_field_points_at_its_parent() -> None:
    error = yaml_refused("name: x\npattern: sequence\nsteps:\n  - id: a\n    name: A\n")
    assert error.line == 4  # the step, since the prompt has no line of its own


def test_a_json_definition_gets_lines_too() -> None:
    data = definition("sequence", [step("a"), step("b", retry={"attempts": 0})])
    error = yaml_refused(json.dumps(data, indent=2))
    assert error.field == "steps[1].retry.attempts"
    text = json.dumps(data, indent=2).splitlines()
    assert error.line is not None and '"attempts": 0' in text[error.line - 1]


def test_text_that_is_not_yaml_names_line_and_column_and_what_to_check() -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        read_text("name: x\nsteps:\n  - {id: a\n", "flow.yaml")
    assert caught.value.field is None
    assert caught.value.line == 4
    assert caught.value.message == "flow.yaml:4:1: expected ',' or '}', but got '<stream end>'"
    assert caught.value.hint == "close the [ or { opened at line 3, column 5"
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (4, 1)


@pytest.mark.parametrize(
    ("text", "where", "check"),
    [
        ("name: x\npattern: a: b\n", "flow.yaml:2:11", "needs quotes"),
        ("name: x\nsteps:\n\t- a\n", "flow.yaml:3:1", "spaces, not tabs"),
        ('name: "x\n', "flow.yaml:2:1", "close the quote opened at line 1, column 7"),
        ("name: x\n  pattern: y\n", "flow.yaml:2:10", "needs quotes"),
    ],
)
def test_each_kind_of_yaml_mistake_says_what_to_check(text: str, where: str, check: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        read_text(text, "flow.yaml")
    assert caught.value.message.startswith(f"{where}: ")
    assert caught.value.hint is not None and check in caught.value.hint


def test_a_definition_is_frozen_data() -> None:
    parsed = parse_definition(VALID[0])
    assert isinstance(parsed, WorkflowDefinition)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        parsed.name = "other"  # type: ignore[misc]


def _places(error: WorkflowDefinitionError) -> list[tuple[str, str]]:
    return [(p.field, p.message) for p in error.problems]


def test_shape_problems_come_with_field_problems_not_after_them() -> None:
    """Pydantic checks the shape only once every field is valid; a person gets both at once."""
    missing_join = definition("parallel", [step("a", colour="red"), step("b")])
    assert _places(refused(missing_join)) == [
        ("steps[0].colour", "unknown field"),
        (
            "steps",
            "a parallel workflow needs exactly one synthesis step (the one with depends_on); "
            "this one has 0",
        ),
    ]
    swarm = definition(
        "swarm", [step("m"), step("w", timeout_seconds=-1), step("r")], swarm={"x": 1}
    )
    assert [field for field, _ in _places(refused(swarm))] == [
        "steps[1].timeout_seconds",
        "swarm.x",
        "steps",  # one worker
    ]
    loop = definition("loop", [step("a"), step("b", name="")])
    assert [m for _, m in _places(refused(loop))] == [
        "is empty",
        "a loop has exactly one step, the one each iteration runs; this one has 2",
        "a loop workflow needs loop settings with max_iterations",
    ]


def test_a_part_that_is_itself_wrong_is_not_checked_again_across_steps() -> None:
    """A wrong depends_on, pattern or worker_concurrency gives its field problem only: no
    guess about the shape it would make."""
    text_depends = definition("parallel", [step("a"), step("b"), step("j", depends_on="a, b")])
    assert [f for f, _ in _places(refused(text_depends))] == ["steps[2].depends_on"]
    bad_pattern = definition("paralel", [step("a"), step("a")])
    assert [f for f, _ in _places(refused(bad_pattern))] == ["pattern", "steps[1].id"]
    too_many = definition(
        "swarm", [step("m"), step("w1"), step("w2"), step("r")], swarm={"worker_concurrency": 9}
    )
    assert [f for f, _ in _places(refused(too_many))] == ["swarm.worker_concurrency"]
    no_steps = definition("loop", [])
    assert [f for f, _ in _places(refused(no_steps))] == ["steps"]


def test_a_stored_definition_still_loads_without_the_newer_checks() -> None:
    """Read back from the database (no ``issues`` context) a cycle is not refused."""
    cyclic = definition("sequence", [step("a", depends_on=["b"]), step("b", depends_on=["a"])])
    assert len(WorkflowDefinition.model_validate(cyclic).steps) == 2
    refused(cyclic)
