"""The condition language's edges: precedence, quoting, which steps a condition names, and the
reason a false condition gives (what a skipped step's row says)."""

from __future__ import annotations

import pytest

from stagent.domain.conditions import (
    MAX_LENGTH,
    NO_STEP,
    NOT_RUN,
    Bool,
    Comparison,
    ConditionError,
    Not,
    Ref,
    StepFacts,
    parse_condition,
)

OK = StepFacts("completed", "LGTM, ship it")
BAD = StepFacts("failed", "error: disk full")


def test_and_binds_tighter_than_or() -> None:
    condition = parse_condition(
        "previous.status == failed or previous.status == completed and previous.output contains x"
    )
    assert isinstance(condition.root, Bool) and condition.root.op == "or"
    assert isinstance(condition.root.nodes[1], Bool) and condition.root.nodes[1].op == "and"
    assert condition.holds(BAD, {})  # the left side of `or` alone
    assert not condition.holds(OK, {})  # completed, but no "x"


def test_parentheses_override_precedence() -> None:
    text = (
        "(previous.status == failed or previous.status == completed) and previous.output contains x"
    )
    assert not parse_condition(text).holds(BAD, {})


def test_not_stacks() -> None:
    condition = parse_condition("not not previous.status == completed")
    assert condition.root == Not(Not(Comparison(Ref(None, "status"), "==", "completed")))
    assert condition.holds(OK, {})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('previous.output contains "say \\"hi\\""', 'say "hi"'),
        ("previous.output contains 'it\\'s'", "it's"),
        ("previous.output contains ship-it_2", "ship-it_2"),
        ('previous.output == ""', ""),
    ],
)
def test_values_are_quoted_or_bare_words(text: str, value: str) -> None:
    root = parse_condition(text).root
    assert isinstance(root, Comparison) and root.value == value


@pytest.mark.parametrize("word", ["AND", "Or", "NOT"])
def test_keywords_ignore_case(word: str) -> None:
    text = {
        "AND": "previous.status == completed AND previous.output contains lgtm",
        "Or": "previous.status == failed Or previous.output contains lgtm",
        "NOT": "NOT previous.status == failed",
    }[word]
    assert parse_condition(text).holds(OK, {})


def test_equality_is_exact_but_trims_blanks() -> None:
    facts = StepFacts("completed", "  Done \n")
    assert parse_condition("previous.output == Done").holds(facts, {})
    assert not parse_condition("previous.output == done").holds(facts, {})
    assert parse_condition("previous.output != done").holds(facts, {})


def test_contains_ignores_case_even_beyond_ascii() -> None:
    assert parse_condition("previous.output contains STRASSE").holds(
        StepFacts("completed", "straße"), {}
    )
    assert parse_condition("previous.output contains 'ÉTÉ'").holds(
        StepFacts("completed", "été"), {}
    )


def test_a_step_that_has_not_run_is_pending_and_empty() -> None:
    assert StepFacts("pending", "") == NOT_RUN
    assert NO_STEP.status == "none"
    assert parse_condition("steps.later.output == ''").holds(OK, {})
    assert parse_condition("steps.later.status == pending").holds(OK, {})


def test_the_named_steps_are_collected_through_every_node() -> None:
    condition = parse_condition(
        "steps.a.status == completed and (not steps.b.output contains x or previous.status == none)"
        " or steps.c-1.output != y"
    )
    assert condition.steps() == {"a", "b", "c-1"}
    assert parse_condition("previous.status == none").steps() == set()


def test_a_false_condition_explains_the_values_it_read() -> None:
    condition = parse_condition(
        "steps.review.output contains LGTM and previous.status == completed"
    )
    reason = condition.explain(BAD, {"review": StepFacts("completed", "needs work")})
    assert reason == (
        "condition `steps.review.output contains LGTM and previous.status == completed` is false "
        "(steps.review.output = 'needs work', previous.status = 'failed')"
    )


def test_a_long_value_is_shortened_in_the_reason() -> None:
    long = "x" * 200
    reason = parse_condition("previous.output == y").explain(StepFacts("completed", long), {})
    assert ("x" * 59 + "…") in reason
    assert "x" * 61 not in reason


def test_an_unrun_step_and_no_previous_step_are_explained() -> None:
    reason = parse_condition("not steps.z.status == pending and previous.status == done").explain(
        None, {}
    )
    assert "steps.z.status = 'pending'" in reason
    assert "previous.status = 'none'" in reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   ", "is empty"),
        ("previous.colour == red", "'previous.colour' is not something a condition can read"),
        ("steps..status == x", "is not something a condition can read"),
        ("steps.a.b.status == x", "is not something a condition can read"),
        ("== x", "expected previous.output, previous.status"),
        ("previous.status not == x", "after 'not' a comparison expects 'contains'"),
        ("previous.status == x and", "found the end"),
        ("previous.status == x or or", "'or' is not something a condition can read"),
        ("previous.status == 'unclosed", "cannot read"),
        ("previous.status == x)", "unexpected ')' after a complete condition"),
        ("previous.status == (x)", "needs a value"),
        ("previous.status == x; rm -rf /", "cannot read ';'"),
        ("x" * (MAX_LENGTH + 1), f"is longer than {MAX_LENGTH} characters"),
    ],
)
def test_what_does_not_parse_says_why(text: str, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    assert message in str(caught.value)


def test_the_position_of_an_unreadable_character_is_one_based() -> None:
    with pytest.raises(ConditionError, match="cannot read '=' at character 17"):
        parse_condition("previous.status = done")
