"""Every bound a workflow definition has, on both sides of the edge: what is accepted at the
limit and refused one past it, with the field named. And where in a YAML file an error is."""

from __future__ import annotations

from typing import Any

import pytest

from stagent.domain.workflow_files import WorkflowDefinitionError, load_definition, parse_definition
from stagent.domain.workflows import STEP_ID, WorkflowDefinition


def step(sid: str, **extra: Any) -> dict[str, Any]:
    return {"id": sid, "name": sid, "prompt": "p", **extra}


def sequence(**extra: Any) -> dict[str, Any]:
    return {"name": "wf", "pattern": "sequence", "steps": [step("a", **extra)]}


def field_of(data: dict[str, Any]) -> str | None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        parse_definition(data)
    return caught.value.field


def accepted_unless(field: str | None, data: dict[str, Any]) -> WorkflowDefinition | None:
    """The definition if ``field`` is None; else check the refusal names ``field``."""
    if field is None:
        return parse_definition(data)
    assert field_of(data) == field
    return None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"retry": {"attempts": 10}}, None),
        ({"retry": {"attempts": 11}}, "steps[0].retry.attempts"),
        ({"retry": {"backoff_seconds": 3600}}, None),
        ({"retry": {"backoff_seconds": 3600.5}}, "steps[0].retry.backoff_seconds"),
        ({"timeout_seconds": 7 * 24 * 3600}, None),
        ({"timeout_seconds": 7 * 24 * 3600 + 1}, "steps[0].timeout_seconds"),
        ({"requires_approval": True, "approval_timeout_seconds": 30 * 24 * 3600}, None),
        (
            {"requires_approval": True, "approval_timeout_seconds": 30 * 24 * 3600 + 1},
            "steps[0].approval_timeout_seconds",
        ),
        (
            {"requires_approval": True, "approval_timeout_seconds": 0},
            "steps[0].approval_timeout_seconds",
        ),
        ({"name": "n" * 200}, None),
        ({"name": "n" * 201}, "steps[0].name"),
        ({"depends_on": "a"}, "steps[0].depends_on"),
        ({"requires_approval": "maybe"}, "steps[0].requires_approval"),
        ({"options": "fast"}, "steps[0].options"),
    ],
)
def test_step_bounds(extra: dict[str, Any], field: str | None) -> None:
    accepted_unless(field, sequence(**extra))


@pytest.mark.parametrize(
    ("sid", "valid"),
    [
        ("a", True),
        ("0", True),
        ("review-2_b", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("Review", False),
        ("_a", False),
        ("a b", False),
        ("a.b", False),
        ("a#1", False),  # '#' separates a run-time instance from its template
        ("", False),
    ],
)
def test_step_ids_are_short_lowercase_words(sid: str, valid: bool) -> None:
    assert (STEP_ID.match(sid) is not None) is valid
    data = {"name": "wf", "pattern": "sequence", "steps": [step(sid)]}
    if valid:
        assert parse_definition(data).steps[0].id == sid
    else:
        assert field_of(data) == "steps[0].id"


def parallel(branches: int, **settings: Any) -> dict[str, Any]:
    ids = [f"b{i}" for i in range(branches)]
    steps = [step(i) for i in ids] + [step("join", depends_on=ids)]
    extra = {"parallel": settings} if settings else {}
    return {"name": "wf", "pattern": "parallel", "steps": steps, **extra}


@pytest.mark.parametrize(("branches", "valid"), [(1, False), (2, True), (5, True), (6, False)])
def test_parallel_takes_two_to_five_branches(branches: int, valid: bool) -> None:
    if valid:
        assert len(parse_definition(parallel(branches)).steps) == branches + 1
    else:
        assert field_of(parallel(branches)) == "steps"


@pytest.mark.parametrize(
    ("limit", "field"), [(1, None), (5, None), (0, "parallel.max_concurrency")]
)
def test_parallel_concurrency_bounds(limit: int, field: str | None) -> None:
    definition = accepted_unless(field, parallel(2, max_concurrency=limit))
    if definition is not None:
        assert definition.parallel is not None and definition.parallel.max_concurrency == limit


def test_parallel_defaults_to_three_at_once_and_failing_the_join() -> None:
    definition = parse_definition(parallel(3, on_branch_failure="fail"))
    assert definition.parallel is not None
    assert (definition.parallel.max_concurrency, definition.parallel.on_branch_failure) == (
        3,
        "fail",
    )


def swarm(workers: int, **settings: Any) -> dict[str, Any]:
    steps = [step("mayor"), *(step(f"w{i}") for i in range(workers)), step("refinery")]
    extra = {"swarm": settings} if settings else {}
    return {"name": "wf", "pattern": "swarm", "steps": steps, **extra}


@pytest.mark.parametrize(("workers", "valid"), [(1, False), (2, True), (5, True), (6, False)])
def test_a_swarm_has_two_to_five_workers(workers: int, valid: bool) -> None:
    if valid:
        parse_definition(swarm(workers))
    else:
        assert field_of(swarm(workers)) == "steps"


@pytest.mark.parametrize(
    ("workers", "limit", "field"),
    [
        (2, 2, None),
        (3, 3, None),
        (2, 3, "swarm.worker_concurrency"),
        (5, 6, "swarm.worker_concurrency"),
        (5, 0, "swarm.worker_concurrency"),
    ],
)
def test_swarm_concurrency_is_at_most_the_workers(
    workers: int, limit: int, field: str | None
) -> None:
    accepted_unless(field, swarm(workers, worker_concurrency=limit))


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"max_iterations": 1}, None),
        ({"max_iterations": 100}, None),
        ({"max_iterations": 101}, "loop.max_iterations"),
        ({"max_iterations": 3, "time_budget_seconds": 0}, "loop.time_budget_seconds"),
        ({"max_iterations": 3, "time_budget_seconds": 60, "completion_signal": "DONE"}, None),
        ({}, "loop.max_iterations"),
    ],
)
def test_loop_settings_bounds(settings: dict[str, Any], field: str | None) -> None:
    data = {"name": "wf", "pattern": "loop", "steps": [step("it")], "loop": settings}
    definition = accepted_unless(field, data)
    if definition is not None:
        assert definition.loop is not None
        assert definition.loop.max_iterations == settings["max_iterations"]


def test_a_loop_stops_on_loop_complete_by_default() -> None:
    data = {"name": "wf", "pattern": "loop", "steps": [step("it")], "loop": {"max_iterations": 2}}
    loop = parse_definition(data).loop
    assert loop is not None and loop.completion_signal == "LOOP_COMPLETE"
    assert loop.time_budget_seconds is None


def test_conditions_may_name_earlier_and_later_steps_but_not_themselves() -> None:
    steps = [
        step("a", condition="steps.c.status == pending"),
        step("b", condition="steps.a.output contains ok"),
        step("c"),
    ]
    parse_definition({"name": "wf", "pattern": "sequence", "steps": steps})


def test_a_blueprints_lineage_rides_along() -> None:
    data = {**sequence(), "blueprint": {"id": "bp", "version": "1", "variables": {"x": "y"}}}
    assert parse_definition(data).blueprint == {"id": "bp", "version": "1", "variables": {"x": "y"}}


FLOW = """\
name: flow
pattern: sequence
steps:
  - {id: a, name: A, prompt: p}
  - {id: b, name: B, prompt: q, retry: {attempts: 0}}
"""

BLOCK = """\
# a comment line
name: block
pattern: checkpoint

steps:
  - id: gate
    name: Gate
    prompt: check
    requires_approval: true
  - id: next
    name: Next
    prompt: go
    condition: previous.status ==
"""


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        (FLOW, 5, "steps[1].retry.attempts"),
        (BLOCK, 13, "steps[1].condition"),
        ("name: x\npattern: loop\nsteps:\n  - {id: a, name: A, prompt: p}\n", 1, "loop"),
        ("name: x\npattern: sequence\nsteps: {}\n", 3, "steps"),
        ("name: ''\npattern: sequence\nsteps:\n  - {id: a, name: A, prompt: p}\n", 1, "name"),
    ],
)
def test_the_line_is_the_fields_own(text: str, line: int, field: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_definition(text, "flow.yaml")
    assert (caught.value.line, caught.value.field) == (line, field)
    assert caught.value.message.startswith(f"flow.yaml:{line}: {field}")


def test_an_empty_file_is_not_a_definition() -> None:
    with pytest.raises(WorkflowDefinitionError, match="must be a mapping"):
        load_definition("", "empty.yaml")
    with pytest.raises(WorkflowDefinitionError, match="must be a mapping"):
        load_definition("# only a comment\n", "empty.yaml")
