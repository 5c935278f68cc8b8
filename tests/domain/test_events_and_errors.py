"""Runtime events as the log stores them, their one-line summaries, and the one error shape every
face renders (``ok``, ``status``, ``code``, ``error``, ``hint``)."""

from __future__ import annotations

import json
import pickle
from typing import Any, get_args

import pytest

from stagent.domain.errors import (
    AuthError,
    ConflictError,
    DatabaseUnavailableError,
    InvalidTransitionError,
    NotFoundError,
    RuntimeUnavailableError,
    ScenarioError,
    StagentError,
    ValidationError,
)
from stagent.domain.events import (
    MAX_SEQ,
    ErrorEvent,
    LoggedEvent,
    LogKind,
    ResultEvent,
    RuntimeEvent,
    TextEvent,
    ToolRequestEvent,
    ToolResultEvent,
    UsageEvent,
    event_payload,
    summarize,
)
from stagent.domain.runs import Subject

EVENTS: list[tuple[RuntimeEvent, dict[str, Any]]] = [
    (TextEvent("hi"), {"text": "hi"}),
    (
        ToolRequestEvent("Bash", {"command": "ls"}, "req_1"),
        {"tool": "Bash", "input": {"command": "ls"}, "request_id": "req_1"},
    ),
    (
        ToolResultEvent("req_1", "Bash", "a\nb", is_error=True),
        {"request_id": "req_1", "tool": "Bash", "output": "a\nb", "is_error": True},
    ),
    (ResultEvent("done"), {"text": "done"}),
    (ErrorEvent("boom"), {"message": "boom", "retryable": None}),
]


@pytest.mark.parametrize(("event", "payload"), EVENTS, ids=lambda v: type(v).__name__)
def test_a_payload_is_the_event_without_its_kind(
    event: RuntimeEvent, payload: dict[str, Any]
) -> None:
    assert event_payload(event) == payload
    assert "kind" not in event_payload(event)
    json.dumps(event_payload(event))  # JSON-ready


def test_a_usage_payload_keeps_every_token_category_raw() -> None:
    usage = UsageEvent(
        "claude-sonnet-4-5",
        input_tokens=10,
        output_tokens=20,
        cache_write_tokens=30,
        cache_write_1h_tokens=5,
        cache_read_tokens=40,
        reasoning_tokens=7,
        request_id="req_9",
    )
    payload = event_payload(usage)
    assert payload["input_tokens"] == 10
    assert payload["cache_write_1h_tokens"] == 5
    assert payload["reasoning_tokens"] == 7
    assert payload["request_id"] == "req_9"
    assert payload["cost_usd"] is None


def test_each_runtime_event_has_its_own_kind_tag() -> None:
    kinds = [event.kind for event, _ in EVENTS] + [UsageEvent("m").kind]
    assert kinds == ["text", "tool_request", "tool_result", "result", "error", "usage"]
    assert set(kinds) <= set(get_args(LogKind))


@pytest.mark.parametrize(
    ("kind", "payload", "line"),
    [
        ("text", {"text": "hello"}, "hello"),
        ("tool_request", {"tool": "Read", "input": {"p": 1}}, "tool Read requested: 1"),
        (
            "tool_request",
            {"tool": "Bash", "input": {"command": "ls", "timeout": 5}},
            "tool Bash requested: command: ls, timeout: 5",
        ),
        ("tool_request", {"tool": "Bash", "input": {}}, "tool Bash requested: {}"),
        (
            "tool_request",
            {"tool": "Write", "input": {"content": "- fixed\n- more\n", "file_path": "C.md"}},
            "tool Write requested: content: - fixed …, file_path: C.md",
        ),
        ("tool_result", {"tool": "Read", "output": "x"}, "tool Read returned: x"),
        (
            "tool_result",
            {"tool": "Read", "output": "x", "is_error": True},
            "tool Read returned (error): x",
        ),
        (
            "usage",
            {"model": "m", "input_tokens": 1, "output_tokens": 2, "cache_read_tokens": 4},
            "usage m: in 1, out 2, cache write 0, cache read 4",
        ),
        ("result", {"text": "ok"}, "result: ok"),
        ("error", {"message": "bad"}, "error: bad"),
        ("status", {"from": "queued", "to": "running"}, "status queued -> running"),
        (
            "status",
            {"from": "running", "to": "failed", "reason": "timed out"},
            "status running -> failed (timed out)",
        ),
        ("session", {"session_id": "s1"}, "runtime session s1"),
        ("deleted", {"title": "T"}, "task deleted: T"),
        ("created", {"title": "T"}, "task created: T"),
        ("updated", {"fields": ["title", "description"]}, "task updated: description, title"),
        ("note", {"message": "routed to auto"}, "routed to auto"),
        ("notice", {"other": 1}, "{'other': 1}"),
        ("text", {}, ""),
    ],
)
def test_every_kind_reads_as_one_line(kind: str, payload: dict[str, Any], line: str) -> None:
    assert summarize(kind, payload) == line
    assert "\n" not in line


def test_a_logged_event_summarizes_its_payload() -> None:
    event = LoggedEvent(
        seq=3,
        task_id=None,
        kind="notice",
        payload={"message": "budget at 80%"},
        subject=Subject("budget", "overall"),
    )
    assert event.summary == "budget at 80%"
    assert event.run_id is None
    assert LoggedEvent(1, "tsk_1", "text").payload == {}


def test_the_largest_seq_fits_a_signed_64_bit_integer() -> None:
    assert MAX_SEQ == 9_223_372_036_854_775_807


ERRORS: list[tuple[type[StagentError], str, int]] = [
    (StagentError, "error", 400),
    (NotFoundError, "not_found", 404),
    (InvalidTransitionError, "invalid_transition", 409),
    (ConflictError, "conflict", 409),
    (ValidationError, "invalid_input", 422),
    (ScenarioError, "invalid_scenario", 422),
    (DatabaseUnavailableError, "database_unavailable", 503),
    (RuntimeUnavailableError, "runtime_unavailable", 422),
    (AuthError, "forbidden", 403),
]


@pytest.mark.parametrize(("cls", "code", "status"), ERRORS, ids=lambda v: str(v))
def test_every_error_has_one_json_shape(cls: type[StagentError], code: str, status: int) -> None:
    error = cls("task tsk_1 not found", hint="run `stagent task list`")
    assert error.to_dict() == {
        "ok": False,
        "status": status,
        "code": code,
        "error": "task tsk_1 not found",
        "hint": "run `stagent task list`",
    }
    assert str(error) == "task tsk_1 not found"
    json.dumps(error.to_dict())


def test_an_error_without_a_hint_says_null() -> None:
    assert NotFoundError("gone").to_dict()["hint"] is None


@pytest.mark.parametrize(("cls", "code", "status"), ERRORS, ids=lambda v: str(v))
def test_an_error_crosses_a_process_boundary_with_its_class_and_message(
    cls: type[StagentError], code: str, status: int
) -> None:
    """DBOS pickles a step's exception; the worker's error must come back as the same class."""
    copy = pickle.loads(pickle.dumps(cls("it broke", hint="h")))
    assert type(copy) is cls
    assert copy.message == "it broke"
    assert copy.to_dict()["code"] == code


def test_every_domain_error_keeps_a_known_status_and_a_code_of_its_own() -> None:
    import stagent.domain.approvals
    import stagent.domain.code_rules
    import stagent.domain.lifecycle
    import stagent.domain.workflow_files
    import stagent.domain.workflow_plans  # noqa: F401

    seen: dict[str, type[StagentError]] = {}
    stack = [StagentError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if not cls.__module__.startswith("stagent.domain."):
            continue  # other layers' errors are their tests' business
        assert cls.status in {400, 403, 404, 409, 422, 429, 503}, cls
        if "code" in vars(cls):
            assert cls.code not in seen, f"{cls} and {seen.get(cls.code)} share {cls.code}"
            seen[cls.code] = cls
    assert {"stale_attempt", "malformed_plan", "acknowledgement_required"} <= set(seen)


def test_a_payload_is_a_copy_of_what_the_event_holds() -> None:
    """A payload may be scrubbed or changed by its writer: the event keeps its own values."""
    command = {"command": "ls", "args": ["-l"]}
    event = ToolRequestEvent("Bash", command, "req_1")
    payload = event_payload(event)
    payload["input"]["args"].append("-a")
    payload["tool"] = "Edit"
    assert event.input == {"command": "ls", "args": ["-l"]}
    assert event.tool == "Bash"
