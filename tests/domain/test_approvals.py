"""Approval cards as values: one card per identical call, questions read leniently from an
agent's input, answers checked strictly, and the JSON every face prints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from stagent.domain.approvals import (
    STATUSES,
    Approval,
    Question,
    answers_from_texts,
    check_answers,
    fingerprint,
    parse_questions,
    person,
)
from stagent.domain.errors import ValidationError

COLOUR = {
    "question": "Which colour?",
    "header": "Colour",
    "options": [{"label": "red", "description": "warm"}, {"label": "blue", "description": "cold"}],
}
SIZE = {"question": "Which size?", "options": [{"label": "S"}, {"label": "L"}], "multiSelect": True}


def card(**changes: Any) -> Approval:
    fields: dict[str, Any] = {
        "id": "apr_1",
        "task_id": "tsk_1",
        "project_id": None,
        "runtime": "claude",
        "profile": None,
        "tool": "Write",
        "input": {"file_path": "a.txt"},
        "fingerprint": fingerprint("Write", {"file_path": "a.txt"}),
        "kind": "permission",
        "risk": "medium",
        "suggested_rule": "Edit(./a.txt)",
        "status": "pending",
        "decision": {"why_asked": "no rule decides this Write call"},
    }
    fields.update(changes)
    return Approval(**fields)


def test_identical_calls_share_a_fingerprint_whatever_the_key_order() -> None:
    a = fingerprint("Bash", {"command": "ls", "timeout": 5})
    b = fingerprint("Bash", {"timeout": 5, "command": "ls"})
    assert a == b
    assert len(a) == 64


@pytest.mark.parametrize(
    ("tool", "tool_input"),
    [
        ("Bash", {"command": "ls -la"}),
        ("Read", {"command": "ls"}),
        ("Bash", {"command": "ls", "timeout": 5}),
        ("Bash", {"command": ["ls"]}),
    ],
)
def test_different_calls_get_different_fingerprints(tool: str, tool_input: dict[str, Any]) -> None:
    assert fingerprint(tool, tool_input) != fingerprint("Bash", {"command": "ls"})


def test_a_fingerprint_takes_inputs_json_cannot_hold() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    assert fingerprint("X", {"at": when}) == fingerprint("X", {"at": when})


def test_people_are_named_by_their_channel() -> None:
    assert [person(c) for c in ("UI", "CLI", "API")] == [
        "person (via UI)",
        "person (via CLI)",
        "person (via API)",
    ]


def test_a_pending_card_says_why_it_was_asked() -> None:
    approval = card()
    assert approval.pending
    assert approval.why_asked == "no rule decides this Write call"
    assert (approval.comment, approval.message, approval.answers) == ("", "", {})


@pytest.mark.parametrize("status", [s for s in STATUSES if s != "pending"])
def test_any_other_status_is_decided(status: str) -> None:
    assert not card(status=status).pending


def test_a_decided_card_carries_the_decision() -> None:
    approval = card(
        status="denied",
        decision={
            "why_asked": "w",
            "message": "not there",
            "comment": "ok then",
            "answers": {1: 2},
        },
        decided_by="person (via CLI)",
    )
    assert approval.message == "not there"
    assert approval.comment == "ok then"
    assert approval.answers == {"1": "2"}


def test_answers_that_are_not_a_mapping_read_as_none() -> None:
    assert card(decision={"answers": ["red"]}).answers == {}


def test_the_cards_json_hides_why_asked_inside_the_decision() -> None:
    created = datetime(2026, 3, 1, 12, tzinfo=UTC)
    data = card(created_at=created, decision={"why_asked": "w", "behavior": "allow"}).to_data()
    assert data["why_asked"] == "w"
    assert data["decision"] == {"behavior": "allow"}
    assert data["created_at"] == "2026-03-01T12:00:00+00:00"
    assert data["expires_at"] is None and data["decided_at"] is None
    assert set(data) == {
        "id", "status", "kind", "tool", "input", "task_id", "project_id", "runtime", "profile",
        "risk", "suggested_rule", "why_asked", "created_at", "expires_at", "decided_at",
        "decided_by", "decision",
    }  # fmt: skip


def test_questions_are_read_from_an_ask_user_question_input() -> None:
    questions = parse_questions({"questions": [COLOUR, SIZE]})
    assert questions == [
        Question("Which colour?", "Colour", (("red", "warm"), ("blue", "cold")), False),
        Question("Which size?", "", (("S", ""), ("L", "")), True),
    ]
    assert questions[0].labels == ["red", "blue"]
    assert card(kind="question", input={"questions": [COLOUR]}).questions == questions[:1]


@pytest.mark.parametrize(
    "tool_input",
    [
        {},
        {"questions": "Which?"},
        {"questions": ["Which?"]},
        {"questions": [{"question": "   "}]},
        {"questions": [{"header": "no text"}]},
    ],
)
def test_malformed_questions_are_skipped(tool_input: dict[str, Any]) -> None:
    assert parse_questions(tool_input) == []


def test_malformed_options_are_skipped_but_the_question_kept() -> None:
    (question,) = parse_questions(
        {"questions": [{"question": "Q?", "options": ["x", {"label": "y"}]}]}
    )
    assert question.labels == ["y"]
    (bare,) = parse_questions({"questions": [{"question": "Q?", "options": "x"}]})
    assert bare.options == ()


QUESTIONS = parse_questions({"questions": [COLOUR, SIZE]})


def test_every_question_answered_is_accepted_trimmed() -> None:
    answers = check_answers(QUESTIONS, {"Which colour?": " red ", "Which size?": ["S", " L", ""]})
    assert answers == {"Which colour?": "red", "Which size?": "S, L"}


def test_an_answer_to_another_question_is_refused_naming_the_real_ones() -> None:
    with pytest.raises(ValidationError) as caught:
        check_answers(QUESTIONS, {"Which colour?": "red", "Which shape?": "round"})
    assert caught.value.message == "answers: 'Which shape?' is not one of this card's questions"
    assert caught.value.hint == "key each answer by the question's text: Which colour?; Which size?"


@pytest.mark.parametrize("missing", [None, "", "   ", [], [" "]])
def test_an_unanswered_question_is_refused_listing_its_options(missing: object) -> None:
    with pytest.raises(ValidationError) as caught:
        check_answers(QUESTIONS, {"Which colour?": missing, "Which size?": "S"})
    assert caught.value.message == "answers: the question 'Which colour?' has no answer"
    assert caught.value.hint == "choose one of: red, blue"


def test_a_free_text_question_asks_to_type_an_answer() -> None:
    free = [Question("Why?")]
    with pytest.raises(ValidationError) as caught:
        check_answers(free, {})
    assert caught.value.hint == "type an answer"


def test_positional_answers_pick_options_by_number() -> None:
    assert answers_from_texts(QUESTIONS, ["2", "L"]) == {
        "Which colour?": "blue",
        "Which size?": "L",
    }
    assert answers_from_texts(QUESTIONS, ["green", "3"]) == {
        "Which colour?": "green",
        "Which size?": "3",  # no third option: the text itself
    }
    assert answers_from_texts(QUESTIONS, ["0", " 1 "])["Which colour?"] == "0"


@pytest.mark.parametrize("texts", [[], ["red"], ["red", "S", "extra"]])
def test_positional_answers_need_one_per_question(texts: list[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        answers_from_texts(QUESTIONS, texts)
    assert caught.value.message == f"this card asks 2 question(s) and got {len(texts)} answer(s)"
    assert caught.value.hint == "give one answer per question, in order: Which colour?; Which size?"


def test_a_blank_positional_answer_is_refused() -> None:
    with pytest.raises(ValidationError, match="has no answer"):
        answers_from_texts(QUESTIONS, ["red", "  "])
