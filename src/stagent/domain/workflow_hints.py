"""What a workflow definition's field errors say, and how to fix each kind: an unknown field
names the closest known one, a missing field gives an example line, a wrong type says what was
given and what is expected, a choice lists the valid ones, a number out of range gives the
allowed range. `stagent.domain.workflow_files` places them (file, line, step, field).

Blueprints (`stagent.profiles.blueprints`) and profile files (`stagent.profiles.loader`) use
the same kinds with their own `Vocabulary` (`field_hints`); a rule of a model that raises
`rule` (a ``PydanticCustomError`` with a ``hint`` in its context) gets that hint.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union, cast, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError

from stagent.domain.workflow_shape import BRANCHES, closest
from stagent.domain.workflows import PATTERNS, WorkflowDefinition

Path = list[str | int]

EXAMPLES: dict[str, str] = {
    "name": "name: Review",
    "pattern": "pattern: sequence",
    "steps": "steps: [{id: review, name: Review, prompt: Review the diff}]",
    "id": "id: review",
    "prompt": "prompt: Review the diff and list problems",
    "profile": "profile: code-reviewer",
    "runtime": "runtime: claude",
    "model": "model: sonnet",
    "depends_on": "depends_on: [review]",
    "requires_approval": "requires_approval: true",
    "approval_timeout_seconds": "approval_timeout_seconds: 3600",
    "retry": "retry: {attempts: 3, backoff_seconds: 10}",
    "attempts": "attempts: 3",
    "backoff_seconds": "backoff_seconds: 10",
    "condition": 'condition: previous.output contains "LGTM"',
    "timeout_seconds": "timeout_seconds: 600",
    "options": "options: {limits: {max_turns: 20}}",
    "parallel": "parallel: {max_concurrency: 3}",
    "max_concurrency": "max_concurrency: 3",
    "on_branch_failure": "on_branch_failure: fail",
    "loop": "loop: {max_iterations: 5}",
    "max_iterations": "max_iterations: 5",
    "time_budget_seconds": "time_budget_seconds: 1800",
    "completion_signal": "completion_signal: LOOP_COMPLETE",
    "swarm": "swarm: {worker_concurrency: 2}",
    "worker_concurrency": "worker_concurrency: 2",
    "blueprint": "blueprint: {id: my-blueprint, version: 1}",
}
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "text",
    "tuple": "a list",
    "list": "a list",
    "dict": "a mapping (key: value lines)",
    "model": "a mapping (key: value lines)",
    "model_attributes": "a mapping (key: value lines)",
}
_RANGE_TYPES = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


@dataclass(frozen=True)
class Vocabulary:
    """What the hints of one kind of document say: its model, example lines per field, what
    the whole is called and what each list holds (``steps`` -> ``every step``)."""

    root: type[BaseModel]
    examples: Mapping[str, str]
    whole: str
    lists: Mapping[str, str]
    by_alias: bool = False
    """Name the fields by their aliases (``allowedTools``), as the files are written."""


WORKFLOW = Vocabulary(WorkflowDefinition, EXAMPLES, "the workflow", {"steps": "every step"})


@dataclass(frozen=True)
class FieldHint:
    """One field error, said for a person: where (``path``), what is wrong, how to fix it."""

    path: Path
    message: str
    hint: str
    at_key: bool = False
    """Cite the field's key rather than its value (a field that should not be there)."""


def field_hint(
    error: ErrorDetails, data: dict[str, Any], words: Vocabulary = WORKFLOW
) -> FieldHint:
    """The message and fix for one pydantic error of a definition (``data`` is its input;
    ``words``: a blueprint's say their own)."""
    path: Path = list(error["loc"])
    kind = error["type"]
    key = next((p for p in reversed(path) if isinstance(p, str)), "definition")
    given: Any = error.get("input")
    hint = (error.get("ctx") or {}).get("hint")
    if isinstance(hint, str):
        return FieldHint(path, str(error["msg"]), hint)
    if kind == "missing":
        return FieldHint(path, "field required", _missing_hint(path, key, words))
    if kind == "extra_forbidden":
        fields = _model_at(path[:-1], words.root).model_fields
        known = [(info.alias if words.by_alias else None) or n for n, info in fields.items()]
        return FieldHint(
            path,
            f"unknown field{closest(str(key), known)}",
            f"the fields here are: {', '.join(known)}",
            at_key=True,
        )
    if kind == "literal_error":
        choices = [c.strip(" '") for c in str(error.get("ctx", {}).get("expected", "")).split(",")]
        choices = [part for c in choices for part in c.split("' or '")]
        if key == "pattern":
            choices = list(PATTERNS)
        return FieldHint(
            path,
            f"{given!r} is not a {key}{closest(str(given), choices)}",
            f"{key} is one of: {', '.join(choices)}",
        )
    if kind in _RANGE_TYPES:
        allowed = _range(path, data, words.root)
        return FieldHint(
            path,
            f"{given} is out of range ({allowed})",
            _with_example(f"allowed: {allowed}", key, words),
        )
    if kind in ("string_too_short", "too_short"):
        what = "needs at least one step" if key == "steps" else "is empty"
        return FieldHint(path, what, _with_example(f"write a {key}", key, words))
    if kind in ("string_too_long", "too_long"):
        most = error.get("ctx", {}).get("max_length")
        return FieldHint(path, f"is too long (at most {most})", f"shorten {key}")
    expected = _expected(kind)
    if expected:
        shown = _shown(given)
        return FieldHint(
            path,
            f"expected {expected}, got {shown}",
            _with_example(f"write {expected}", key, words),
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    return FieldHint(path, message[:1].lower() + message[1:], _value_hint(key))


def rule(message: str, hint: str) -> PydanticCustomError:
    """A model rule's refusal carrying its own fix (`field_hint` says ``hint``)."""
    return PydanticCustomError("rule", "{message}", {"message": message, "hint": hint})


def field_hints(
    exc: PydanticValidationError, data: dict[str, Any], words: Vocabulary
) -> list[FieldHint]:
    """Every field error of ``exc`` said once (a union's members each fail: one hint), the
    most specific ones only, in ``words``."""
    hints: dict[tuple[str | int, ...], FieldHint] = {}
    for error in exc.errors():
        loc = [part for part in error["loc"] if not _is_tag(part)]
        found = field_hint({**error, "loc": tuple(loc)}, data, words)
        hints.setdefault(tuple(loc), found)
    return most_specific(list(hints.values()))


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "none"})


def _is_tag(part: str | int) -> bool:
    """A union member or validator's name pydantic puts in a location, not a field."""
    return isinstance(part, str) and (
        "[" in part or part.startswith("function-") or part in _UNION_TAGS
    )


def most_specific(hints: list[FieldHint]) -> list[FieldHint]:
    """``hints`` without an error on a list whose items have errors of their own ("steps: at
    least 1 item after validation" says nothing more)."""
    return [
        h
        for h in hints
        if not any(len(o.path) > len(h.path) and o.path[: len(h.path)] == h.path for o in hints)
    ]


def _missing_hint(path: Path, key: str, words: Vocabulary) -> str:
    owner = words.whole
    if len(path) >= 2 and isinstance(path[0], str) and path[0] in words.lists:
        owner = words.lists[path[0]]
    if path[:1] in (["loop"], ["parallel"], ["swarm"]):
        owner = f"the {path[0]} settings"
    example = words.examples.get(key, f"{key}: ...")
    return f"{owner} needs {key}; add a line such as {example}"


def _with_example(advice: str, key: str, words: Vocabulary) -> str:
    example = words.examples.get(key)
    return f"{advice}, e.g. {example}" if example else advice


def _value_hint(key: str) -> str:
    if key == "id":
        return "an id is lowercase letters, digits, '-' or '_', e.g. id: review-2"
    if key == "condition":
        return (
            'a condition compares a step\'s output or status, e.g. previous.output contains "LGTM"'
            " or steps.review.status == completed"
        )
    return f"fix {key} as the message says"


def _expected(kind: str) -> str | None:
    for prefix, expected in _EXPECTED.items():
        if kind.startswith(f"{prefix}_") and kind.removeprefix(f"{prefix}_") in (
            "type",
            "parsing",
            "from_float",
            "fraction",
        ):
            return expected
    return None


def _shown(value: object) -> str:
    kinds: dict[type, str] = {
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "a mapping",
    }
    kind = kinds.get(type(value), "a value")
    text = str(repr(cast(Any, value)))
    return f"{text[:40]}... ({kind})" if len(text) > 40 else f"{text} ({kind})"


def _range(path: Path, data: dict[str, Any], root: type[BaseModel]) -> str:
    """The allowed range of the number at ``path``, from its field's constraints."""
    if path == ["swarm", "worker_concurrency"]:
        steps = data.get("steps")
        workers = len(cast(list[Any], steps)) - 2 if isinstance(steps, list) else BRANCHES[1]
        top = min(max(workers, 1), BRANCHES[1])
        return f"1 to {top}, at most the number of workers"
    info = _field_at(path, root)
    low = high = None
    low_open = high_open = False
    for item in info.metadata if info is not None else []:
        if isinstance(item, annotated_types.Ge):
            low = item.ge
        elif isinstance(item, annotated_types.Gt):
            low, low_open = item.gt, True
        elif isinstance(item, annotated_types.Le):
            high = item.le
        elif isinstance(item, annotated_types.Lt):
            high, high_open = item.lt, True
    lower = f"more than {low}" if low_open else f"{low}" if low is not None else ""
    if high is None:
        return f"{lower} or more" if not low_open else lower
    upper = f"less than {high}" if high_open else f"{high}"
    return f"{lower} to {upper}" if lower else f"at most {upper}"


def _field_at(path: Path, root: type[BaseModel]) -> FieldInfo | None:
    model: type[BaseModel] | None = root
    info: FieldInfo | None = None
    for part in path:
        if isinstance(part, int):
            continue
        info = _named(model, part)
        if info is None:
            return None
        model = _model_in(info.annotation)
    return info


def _model_at(path: Path, root: type[BaseModel]) -> type[BaseModel]:
    model: type[BaseModel] | None = root
    for part in path:
        info = _named(model, part) if isinstance(part, str) else None
        if info is not None:
            model = _model_in(info.annotation)
    return model or root


def _named(model: type[BaseModel] | None, part: str) -> FieldInfo | None:
    """``model``'s field called ``part`` (by its name or its alias)."""
    if model is None:
        return None
    fields = model.model_fields
    return fields.get(part) or next((f for f in fields.values() if f.alias == part), None)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is dict:
        return _model_in(get_args(annotation)[-1])
    if get_origin(annotation) in (Union, types.UnionType, tuple, list):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
