"""Step conditions: a small language that is parsed, never evaluated as code; errors name the
file, line, step and field."""

from __future__ import annotations

import pytest

from stagent.domain.conditions import ConditionError, StepFacts, parse_condition
from stagent.domain.workflow_files import WorkflowDefinitionError, load_definition

DONE = StepFacts("completed", "All good: LGTM")
FAILED = StepFacts("failed", "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('previous.output contains "lgtm"', True),  # contains ignores case
        ("previous.output contains blocker", False),
        ('previous.output not contains "blocker"', True),
        ("previous.status == completed", True),
        ("previous.status != completed", False),
        ("steps.review.status == failed", True),
        ("steps.other.status == pending", True),  # a step that has not run
        ("not steps.review.status == failed", False),
        ("previous.status == completed and steps.review.status == completed", False),
        ("previous.status == completed or steps.review.status == completed", True),
        (
            "(steps.review.status == completed or previous.output contains LGTM) "
            "and not previous.output contains 'rm -rf'",
            True,
        ),
        ("previous.output == 'All good: LGTM  '", True),  # == trims surrounding blanks
    ],
)
def test_conditions_read_the_run_so_far(text: str, expected: bool) -> None:
    condition = parse_condition(text)
    assert condition.holds(DONE, {"review": FAILED}) is expected


def test_before_the_first_step_previous_is_none() -> None:
    assert parse_condition("previous.status == none").holds(None, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("previous.output", "expected ==, !=, contains or not contains, found the end"),
        ("previous.output contains", "needs a value"),
        ("__import__('os').system('x')", "cannot read '.'"),
        ('os.system == "x"', "is not something a condition can read"),
        ("previous.status = done", "cannot read '='"),
        ("(previous.status == done", "'(' is never closed"),
        ("previous.status == done done", "unexpected 'done'"),
    ],
)
def test_a_bad_condition_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(text)


def test_a_bad_condition_in_a_file_names_file_line_step_and_field() -> None:
    text = (
        "name: x\npattern: sequence\nsteps:\n  - {id: a, name: A, prompt: p}\n"
        "  - id: b\n    name: B\n    prompt: q\n    condition: previous.output has LGTM\n"
    )
    with pytest.raises(WorkflowDefinitionError) as raised:
        load_definition(text, "flow.yaml")
    assert raised.value.message.startswith(
        "flow.yaml:8: steps[1].condition (step b): expected ==, !=, contains or not contains"
    )
    unknown = text.replace("previous.output has LGTM", "steps.zz.status == completed")
    with pytest.raises(WorkflowDefinitionError) as raised:
        load_definition(unknown, "flow.yaml")
    assert raised.value.message == (
        "flow.yaml:8: steps[1].condition (step b): names step 'zz', not another step"
    )


def test_an_approval_timeout_needs_a_gate() -> None:
    text = (
        "name: x\npattern: sequence\nsteps:\n"
        "  - {id: a, name: A, prompt: p, approval_timeout_seconds: 60}\n"
    )
    with pytest.raises(WorkflowDefinitionError) as caught:
        load_definition(text, "flow.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field, problem.step) == (
        4,
        "steps[0].approval_timeout_seconds",
        "a",
    )
    assert problem.message == "approval_timeout_seconds is set but requires_approval is not"
    assert problem.hint is not None and "add requires_approval: true" in problem.hint
