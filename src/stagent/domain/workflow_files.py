"""Reading workflow definitions from YAML or JSON: every error names the file, the line, the step
and the field, and says how to fix it.

``load_definition(text, source)`` parses and validates; the CLI passes a file's text and path,
the API the request body and ``"<request>"``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError as PydanticValidationError

from stagent.domain.errors import ValidationError
from stagent.domain.workflows import PATTERNS, WorkflowDefinition
from stagent.domain.yaml_lines import located

if TYPE_CHECKING:  # PyYAML loads only when a definition is read
    pass

HINT = (
    "fix that field and try again; a workflow needs name, pattern "
    f"({', '.join(PATTERNS)}) and steps, each with id, name and prompt"
)
_STEP_MESSAGE = re.compile(r"^step ([a-z0-9_-]+): (.*)$", re.DOTALL)
_FIELD_MESSAGE = re.compile(r"^([a-z_]+(?:\.[a-z_]+)?): (.*)$", re.DOTALL)


class WorkflowDefinitionError(ValidationError):
    """A workflow definition that does not validate (names file, line, step and field).

    ``field`` (``steps[1].prompt``, ``loop.max_iterations``; None when the text is not even
    YAML) and ``line`` (1-based, when the text is known) say where, for an editor that shows the
    message beside the field or line.
    """

    field: str | None = None
    line: int | None = None


def load_definition(text: str, source: str = "<definition>") -> WorkflowDefinition:
    """Parse YAML or JSON text and validate it as a workflow definition."""
    return parse_definition(read_text(text, source), source=source, text=text)


def read_text(text: str, source: str = "<definition>") -> Any:
    """Parse YAML or JSON text into data (not yet validated); errors name the line."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        error = WorkflowDefinitionError(
            f"{source}{line}: {problem}", hint="workflow files are YAML or JSON"
        )
        error.line = mark.line + 1 if mark is not None else None
        raise error from None


def parse_definition(
    data: Any, *, source: str = "<definition>", text: str | None = None
) -> WorkflowDefinition:
    """Validate definition data; errors name ``source``, the line (given ``text``), the step and
    the field."""
    if not isinstance(data, dict):
        raise WorkflowDefinitionError(
            f"{source}: a workflow definition must be a mapping with name, pattern and steps",
            hint=HINT,
        )
    mapping = cast(dict[str, Any], data)
    try:
        definition = WorkflowDefinition.model_validate(mapping)
    except PydanticValidationError as exc:
        raise _from_pydantic(exc, source, text, mapping) from None
    _check_step_options(definition, source, text)
    return definition


def _check_step_options(definition: WorkflowDefinition, source: str, text: str | None) -> None:
    from stagent.domain.run_options import parse_run_options

    for index, step in enumerate(definition.steps):
        if step.options is None:
            continue
        runtime = step.runtime or "scripted"
        try:
            parse_run_options({**step.options, "runtime": runtime}, prefix="options.")
        except ValidationError as exc:
            field, _, problem = exc.message.partition(": ")
            path: list[str | int] = ["steps", index, *field.split(".")]
            raise _error(source, text, path, problem or exc.message, step.id) from None


def step_field_error(
    definition: WorkflowDefinition,
    key: str,
    field: str,
    problem: str,
    *,
    source: str = "definition",
    text: str | None = None,
    hint: str | None = None,
) -> WorkflowDefinitionError:
    """The error for one field of step ``key`` that a check outside the definition refused (an
    unknown runtime or profile), placed as the definition's own errors are: file (``source``),
    line (given ``text``), step and field."""
    index = next(i for i, step in enumerate(definition.steps) if step.id == key)
    error = _error(source, text, ["steps", index, field], problem, key)
    if hint:
        error.hint = hint
    return error


def _from_pydantic(
    exc: PydanticValidationError, source: str, text: str | None, data: dict[str, Any]
) -> WorkflowDefinitionError:
    first = exc.errors()[0]
    loc: list[str | int] = list(first["loc"])
    message = str(first["msg"])
    message = message.removeprefix("Value error, ")
    if loc:
        return _error(source, text, loc, message[:1].lower() + message[1:], _step_id(data, loc))
    return _model_error(source, text, data, message)


def _model_error(
    source: str, text: str | None, data: dict[str, Any], message: str
) -> WorkflowDefinitionError:
    """A whole-definition check failed; its message starts with the step or setting it names."""
    step_match = _STEP_MESSAGE.match(message)
    if step_match:
        step_id, problem = step_match.groups()
        index = _step_index(data, step_id)
        field = (
            "condition"
            if problem.startswith("condition")
            else "depends_on"
            if "depends_on" in problem or "depend" in problem
            else None
        )
        path: list[str | int] = ["steps"] if index is None else ["steps", index]
        if field and index is not None:
            path.append(field)
        return _error(source, text, path, problem, step_id)
    field_match = _FIELD_MESSAGE.match(message)
    if field_match:
        field, problem = field_match.groups()
        return _error(source, text, [*field.split(".")], problem, None)
    return _error(source, text, [], message, None)


def _step_id(data: dict[str, Any], loc: list[str | int]) -> str | None:
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        steps = data.get("steps")
        if isinstance(steps, list):
            listed = cast(list[Any], steps)
            step: Any = listed[loc[1]] if loc[1] < len(listed) else None
            if isinstance(step, dict):
                value = cast(dict[str, Any], step).get("id")
                return value if isinstance(value, str) else None
    return None


def _step_index(data: dict[str, Any], step_id: str) -> int | None:
    steps = data.get("steps")
    if not isinstance(steps, list):
        return None
    for index, step in enumerate(cast(list[Any], steps)):
        if isinstance(step, dict) and cast(dict[str, Any], step).get("id") == step_id:
            return index
    return None


def _error(
    source: str, text: str | None, path: list[str | int], problem: str, step_id: str | None
) -> WorkflowDefinitionError:
    field, line, where = located(source, text, path, empty="definition")
    step = f" (step {step_id})" if step_id else ""
    error = WorkflowDefinitionError(f"{where}: {field}{step}: {problem}", hint=HINT)
    error.field = field
    error.line = line
    return error
