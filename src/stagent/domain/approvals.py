"""Approval requests ("cards"): a tool call no rule decided, and what a person made of it. Pure.

A card is a ``permission`` card (allow once, always allow, deny), a ``question`` card (an
``AskUserQuestion`` call: the person answers it) or a ``checkpoint`` card (a workflow step that
``requires_approval``: approve, optionally with a comment the step's prompt gets, or reject).
It is ``pending`` until it is decided, times out, or its task ends. ``decided_by`` names who or
what closed it: ``person (via UI)``, ``person (via CLI)``, ``person (via API)``, ``timeout``,
``task ended``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast, get_args

from stagent.domain.errors import ValidationError

ApprovalStatus = Literal["pending", "allowed", "denied", "answered", "timed_out", "cancelled"]
ApprovalKind = Literal["permission", "question", "checkpoint"]
Channel = Literal["UI", "CLI", "API"]
STATUSES: tuple[ApprovalStatus, ...] = get_args(ApprovalStatus)

CHECKPOINT_TOOL = "WorkflowCheckpoint"
"""The tool name a workflow checkpoint card shows (as in the original)."""
TIMED_OUT_BY = "timeout"
TASK_ENDED_BY = "task ended"


def person(channel: Channel) -> str:
    """How the audit trail names a person deciding through ``channel``."""
    return f"person (via {channel})"


def fingerprint(tool: str, tool_input: Mapping[str, Any]) -> str:
    """A stable hash of a call: identical concurrent requests of one task share one card."""
    text = json.dumps([tool, tool_input], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Approval:
    """One card, as stored."""

    id: str
    task_id: str | None
    project_id: str | None
    runtime: str
    profile: str | None
    tool: str
    input: dict[str, Any]
    fingerprint: str
    kind: ApprovalKind
    risk: str
    suggested_rule: str | None
    status: ApprovalStatus
    decision: dict[str, Any] = field(default_factory=lambda: {})
    """``why_asked`` from the start; once decided also ``behavior``, ``message``, ``answers``,
    ``always``, ``scope``, ``rule`` and ``rule_id``."""
    decided_by: str | None = None
    created_at: datetime | None = None
    expires_at: datetime | None = None
    decided_at: datetime | None = None
    run_id: str | None = None
    """The run that asked (through it, the subject: a task, later a workflow step ...)."""

    @property
    def pending(self) -> bool:
        """True while a person may still decide it."""
        return self.status == "pending"

    @property
    def why_asked(self) -> str:
        """Why no rule decided the call (``no rule decides this Write call``...)."""
        return str(self.decision.get("why_asked", ""))

    @property
    def comment(self) -> str:
        """For an approved checkpoint: the reviewer's comment (the step's prompt gets it)."""
        return str(self.decision.get("comment") or "")

    @property
    def message(self) -> str:
        """What the agent is told on a denial or a timeout."""
        return str(self.decision.get("message", ""))

    @property
    def answers(self) -> dict[str, str]:
        """For an answered question card: question text -> answer."""
        raw: object = self.decision.get("answers")
        if not isinstance(raw, dict):
            return {}
        return {str(k): str(v) for k, v in cast(dict[str, Any], raw).items()}

    @property
    def questions(self) -> list[Question]:
        """For a question card: its questions."""
        return parse_questions(self.input)

    def to_data(self) -> dict[str, Any]:
        """JSON-ready data: what ``stagent inbox --json`` prints and the API returns."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "status": self.status,
            "kind": self.kind,
            "tool": self.tool,
            "input": self.input,
            "task_id": self.task_id,
            "project_id": self.project_id,
            "runtime": self.runtime,
            "profile": self.profile,
            "risk": self.risk,
            "suggested_rule": self.suggested_rule,
            "why_asked": self.why_asked,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "decided_at": iso(self.decided_at),
            "decided_by": self.decided_by,
            "decision": {k: v for k, v in self.decision.items() if k != "why_asked"},
        }


@dataclass(frozen=True, slots=True)
class Question:
    """One ``AskUserQuestion`` question with its options."""

    question: str
    header: str = ""
    options: tuple[tuple[str, str], ...] = ()
    """(label, description) pairs."""
    multi_select: bool = False

    @property
    def labels(self) -> list[str]:
        """The option labels."""
        return [label for label, _ in self.options]


def parse_questions(tool_input: Mapping[str, Any]) -> list[Question]:
    """The questions of an ``AskUserQuestion`` input (malformed entries are skipped)."""
    out: list[Question] = []
    raw = tool_input.get("questions")
    for item in cast(list[Any], raw) if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        entry = cast(dict[str, Any], item)
        text = str(entry.get("question") or "").strip()
        if not text:
            continue
        options: list[tuple[str, str]] = []
        raw_options = entry.get("options")
        for option in cast(list[Any], raw_options) if isinstance(raw_options, list) else []:
            if isinstance(option, dict):
                data = cast(dict[str, Any], option)
                options.append((str(data.get("label", "")), str(data.get("description", ""))))
        multi = bool(entry.get("multiSelect"))
        out.append(Question(text, str(entry.get("header") or ""), tuple(options), multi))
    return out


def check_answers(questions: Sequence[Question], answers: Mapping[str, Any]) -> dict[str, str]:
    """Validate answers keyed by question text: every question answered, nothing unknown.

    A list value (several options of a multi-select question) is joined with ``", "``, which
    is how Claude Code reads several chosen labels.
    """
    known = {q.question for q in questions}
    unknown = [key for key in answers if key not in known]
    if unknown:
        raise ValidationError(
            f"answers: {unknown[0]!r} is not one of this card's questions",
            hint="key each answer by the question's text: " + "; ".join(sorted(known)),
        )
    out: dict[str, str] = {}
    for q in questions:
        value = answers.get(q.question)
        text = (
            ", ".join(str(v).strip() for v in cast(list[Any], value) if str(v).strip())
            if isinstance(value, list)
            else str(value or "").strip()
        )
        if not text:
            raise ValidationError(
                f"answers: the question {q.question!r} has no answer",
                hint=f"choose one of: {', '.join(q.labels)}" if q.labels else "type an answer",
            )
        out[q.question] = text
    return out


def answers_from_texts(questions: Sequence[Question], texts: Sequence[str]) -> dict[str, str]:
    """Positional answers (``stagent answer ID red large``): one text per question, in order.

    A text that is an option's number (``1``, ``2``...) picks that option's label.
    """
    if len(texts) != len(questions):
        asked = "; ".join(q.question for q in questions)
        raise ValidationError(
            f"this card asks {len(questions)} question(s) and got {len(texts)} answer(s)",
            hint=f"give one answer per question, in order: {asked}",
        )
    answers: dict[str, str] = {}
    for q, text in zip(questions, texts, strict=True):
        stripped = text.strip()
        if stripped.isdigit() and 1 <= int(stripped) <= len(q.options):
            stripped = q.options[int(stripped) - 1][0]
        answers[q.question] = stripped
    return check_answers(questions, answers)
