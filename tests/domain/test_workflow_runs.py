"""A workflow run's steps as values: keys of steps made at run time, the rows a run starts with,
each step's role in its pattern, what a retry must run again, and a planner's plan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_plans import MAX_PLAN_STEPS, PlanError, PlanStep, parse_plan, plan_text
from stagent.domain.workflow_runs import (
    BUILT_PATTERNS,
    StepState,
    StepStatus,
    Workflow,
    WorkflowStatus,
    downstream,
    engine_id_for,
    initial_step_keys,
    instance_key,
    split_key,
    step_role,
)
from stagent.domain.workflows import PATTERNS, WorkflowDefinition


def wf(pattern: str, ids: list[str], **extra: Any) -> WorkflowDefinition:
    steps: list[dict[str, Any]] = [{"id": i, "name": i.title(), "prompt": i} for i in ids]
    if pattern == "parallel":
        steps[-1]["depends_on"] = ids[:-1]
    return parse_definition({"name": "w", "pattern": pattern, "steps": steps, **extra})


SEQ = wf("sequence", ["a", "b", "c"])
PAR = wf("parallel", ["x", "y", "z", "join"])
PLAN = wf("planner-executor", ["plan", "do"])
LOOP = wf("loop", ["it"], loop={"max_iterations": 5})
SWARM = wf("swarm", ["mayor", "w1", "w2", "ref"])


def test_every_stored_pattern_is_built() -> None:
    assert set(BUILT_PATTERNS) == set(PATTERNS)


@pytest.mark.parametrize(("template", "index"), [("it", 1), ("do", 12), ("a-b_c", 3)])
def test_an_instance_key_splits_back(template: str, index: int) -> None:
    key = instance_key(template, index)
    assert key == f"{template}#{index}"
    assert split_key(key) == (template, index)


@pytest.mark.parametrize("key", ["review", "it#", "it#x", "it#-1"])
def test_a_key_without_a_number_is_a_definition_step(key: str) -> None:
    assert split_key(key) == (key, None)


def test_a_step_state_knows_its_template_and_index() -> None:
    assert (
        StepState("it#2", 1, StepStatus.RUNNING).template,
        StepState("it#2", 1, StepStatus.RUNNING).index,
    ) == ("it", 2)
    plain = StepState("review", 0, StepStatus.PENDING)
    assert (plain.template, plain.index) == ("review", None)


@pytest.mark.parametrize(
    ("definition", "keys"),
    [
        (SEQ, ["a", "b", "c"]),
        (PAR, ["x", "y", "z", "join"]),
        (PLAN, ["plan"]),
        (LOOP, []),
        (SWARM, ["mayor", "w1", "w2", "ref"]),
    ],
)
def test_a_run_starts_with_rows_for_the_steps_known_up_front(
    definition: WorkflowDefinition, keys: list[str]
) -> None:
    assert initial_step_keys(definition) == keys


@pytest.mark.parametrize(
    ("definition", "key", "role"),
    [
        (SEQ, "b", "step"),
        (wf("checkpoint", ["a"]), "a", "step"),
        (PAR, "x", "branch"),
        (PAR, "join", "join"),
        (PAR, "unknown", "branch"),
        (PLAN, "plan", "planner"),
        (PLAN, "do#3", "executor"),
        (LOOP, "it#4", "iteration"),
        (SWARM, "mayor", "mayor"),
        (SWARM, "w2", "worker"),
        (SWARM, "ref", "refinery"),
    ],
)
def test_each_step_has_a_role_in_its_pattern(
    definition: WorkflowDefinition, key: str, role: str
) -> None:
    assert step_role(definition, key) == role


@pytest.mark.parametrize(
    ("definition", "keys", "key", "again"),
    [
        (SEQ, ["a", "b", "c"], "a", ["b", "c"]),
        (SEQ, ["a", "b", "c"], "c", []),
        (SEQ, ["a", "b", "c"], "gone", []),
        (PAR, ["x", "y", "z", "join"], "y", ["join"]),
        (PAR, ["x", "y", "z", "join"], "join", []),
        (SWARM, ["mayor", "w1", "w2", "ref"], "w1", ["ref"]),
        (SWARM, ["mayor", "w1", "w2", "ref"], "mayor", ["w1", "w2", "ref"]),
        (SWARM, ["mayor", "w1", "w2", "ref"], "ref", []),
        (LOOP, ["it#1", "it#2", "it#3"], "it#2", ["it#3"]),
        (PLAN, ["plan", "do#1", "do#2"], "plan", ["do#1", "do#2"]),
    ],
)
def test_a_retry_runs_again_what_depends_on_the_step(
    definition: WorkflowDefinition, keys: list[str], key: str, again: list[str]
) -> None:
    assert downstream(definition, keys, key) == again


def test_engine_ids_name_the_workflow_run_and_round() -> None:
    assert engine_id_for("wfl_1", 2, 3) == "wfl_1-run-2-3"
    assert engine_id_for("wfl_1", 2, 3) != engine_id_for("wfl_1", 2, 4)


def test_only_a_running_workflow_is_active() -> None:
    assert [s for s in WorkflowStatus if s.is_active] == [WorkflowStatus.RUNNING]


def test_a_workflow_names_its_steps_from_the_definition_or_their_own() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    stored = Workflow("wfl_1", LOOP, WorkflowStatus.DRAFT, 0, None, None, when, when)
    assert (stored.name, stored.pattern) == ("w", "loop")
    assert (
        stored.step_name(StepState("it#1", 0, StepStatus.PENDING, name="Iteration 1"))
        == "Iteration 1"
    )
    assert stored.step_name(StepState("it", 0, StepStatus.PENDING)) == "It"
    assert stored.step_name(StepState("ghost", 0, StepStatus.PENDING)) == "ghost"
    assert stored.step_role(StepState("it#1", 0, StepStatus.PENDING)) == "iteration"


PLAN_JSON = (
    '[{"name": "Timeline", "prompt": "Build it"}, {"title": "Fix", "instructions": "Fix it"}]'
)


def test_a_plan_is_read_with_its_aliases_and_the_one_executor_filled_in() -> None:
    steps = parse_plan(PLAN_JSON, ["do"])
    assert steps == (
        PlanStep(name="Timeline", prompt="Build it", executor="do"),
        PlanStep(name="Fix", prompt="Fix it", executor="do"),
    )
    assert plan_text(steps) == "1. Timeline: Build it\n2. Fix: Fix it"


@pytest.mark.parametrize(
    "text",
    [
        f"Here is the plan:\n```json\n{PLAN_JSON}\n```\nThanks",
        f"```\n{PLAN_JSON}\n```",
        '{"steps": ' + PLAN_JSON + "}",
        f"  {PLAN_JSON}  \n",
    ],
)
def test_a_plan_is_found_in_a_fence_or_a_steps_object(text: str) -> None:
    assert [s.name for s in parse_plan(text, ["do"])] == ["Timeline", "Fix"]


@pytest.mark.parametrize(
    ("text", "executors", "message"),
    [
        ("I will do things", ["do"], "the plan is not JSON (line 1, column 1: Expecting value)"),
        ('"a string"', ["do"], "the plan must be a JSON list of steps, not a string"),
        ('{"plan": 1}', ["do"], "the plan must be a JSON list of steps, not an object"),
        ("null", ["do"], "the plan must be a JSON list of steps, not null"),
        ("3", ["do"], "the plan must be a JSON list of steps, not a int"),
        ("[]", ["do"], "the plan has no steps"),
        (
            "[" + ",".join(['{"name": "n", "prompt": "p"}'] * (MAX_PLAN_STEPS + 1)) + "]",
            ["do"],
            f"the plan has {MAX_PLAN_STEPS + 1} steps; at most {MAX_PLAN_STEPS} are allowed",
        ),
        ('[{"name": "n"}]', ["do"], "the plan's step 1: prompt: Field required"),
        (
            '[{"name": "n", "prompt": "p"}, {"prompt": "p"}]',
            ["do"],
            "the plan's step 2: name: Field required",
        ),
        ('[{"name": "", "prompt": "p"}]', ["do"], "the plan's step 1: name: "),
        ('["just text"]', ["do"], "the plan's step 1: "),
        ('[{"name": "n", "prompt": "p"}]', ["a", "b"], "the plan's step 1 ('n') names no executor"),
        (
            '[{"name": "n", "prompt": "p", "executor": "c"}]',
            ["a", "b"],
            "the plan's step 1 ('n') names executor 'c', which this workflow does not have",
        ),
    ],
)
def test_a_bad_plan_is_one_error_saying_what_and_where(
    text: str, executors: list[str], message: str
) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, executors)
    assert caught.value.message.startswith(message)
    assert caught.value.to_dict()["code"] == "malformed_plan"


def test_a_plan_names_its_executor_when_there_are_several() -> None:
    steps = parse_plan('[{"name": "n", "prompt": "p", "executor": "b", "extra": 1}]', ["a", "b"])
    assert steps[0].executor == "b"
    with pytest.raises(PlanError) as caught:
        parse_plan('[{"name": "n", "prompt": "p"}]', ["a", "b"])
    assert caught.value.hint == "each step names one of: a, b"
