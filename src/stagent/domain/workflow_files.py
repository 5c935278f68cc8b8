"""Reading workflow definitions from YAML or JSON: every error names the file, the line, the step
and the field, and says how to fix it.

``load_definition(text, source)`` parses and validates; the CLI passes a file's text and path,
the API the request body and ``"<request>"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError as PydanticValidationError

from stagent.domain import yaml_lines
from stagent.domain.errors import Problem, ValidationError
from stagent.domain.limits import checked_plain
from stagent.domain.workflow_hints import FieldHint, field_hint, most_specific
from stagent.domain.workflow_outline import Outline, StepOutline, outline_from_data
from stagent.domain.workflow_shape import ShapeIssue, shape_issues
from stagent.domain.workflows import DEFAULT_STEP_RUNTIME, WorkflowDefinition
from stagent.domain.yaml_lines import format_path, position_of

if TYPE_CHECKING:
    import yaml

StepCheck = Callable[[StepOutline], Iterable[tuple[str, str, "str | None"]]]
"""A check of one step against what this place has (its runtimes, profiles): each refusal as
(field, problem, hint)."""
MAPPING_HINT = (
    "start from: name: my-workflow / pattern: sequence / steps: - {id: review, name: Review, "
    "prompt: Review the diff}"
)


class WorkflowDefinitionError(ValidationError):
    """A workflow definition that does not validate: every problem found (``problems``), each
    naming file, line, step and field with its own fix.

    ``field`` (``steps[1].prompt``, ``loop.max_iterations``; None when the text is not even
    YAML) and ``line`` (1-based, when the text is known) are the first problem's, for an editor
    that shows one message beside its field or line.
    """

    field: str | None = None
    line: int | None = None

    @classmethod
    def of(cls, problems: list[Problem]) -> WorkflowDefinitionError:
        """The error for ``problems`` (at least one, `ValidationError.listing`), with the
        first problem's field and line."""
        error = cls.listing(problems)
        first = error.problems[0]
        error.field = first.field
        error.line = first.line
        return error


def load_definition(
    text: str, source: str = "<definition>", *, check_step: StepCheck | None = None
) -> WorkflowDefinition:
    """Parse YAML or JSON text and validate it as a workflow definition (``check_step``: see
    `parse_definition`)."""
    return parse_definition(
        read_text(text, source), source=source, text=text, check_step=check_step
    )


def read_text(text: str, source: str = "<definition>") -> Any:
    """Parse YAML or JSON text into data (not yet validated); errors name line and column."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, source) from None


def _syntax_error(exc: yaml.YAMLError, source: str) -> WorkflowDefinitionError:
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", None) or "not valid YAML or JSON")
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    where = f"{source}:{line}:{column}" if mark is not None else source
    hint = yaml_lines.syntax_hint(exc, "workflow files are YAML or JSON")
    found = Problem("definition", problem, hint, source, line, column, None)
    error = WorkflowDefinitionError(f"{where}: {problem}", hint=found.hint)
    error.problems = (found,)
    error.line = line
    return error


def parse_definition(
    data: Any,
    *,
    source: str = "<definition>",
    text: str | None = None,
    check_step: StepCheck | None = None,
) -> WorkflowDefinition:
    """Validate definition data; an error lists every problem found, each naming ``source``, the
    line (given ``text``), the step and the field, with how to fix it: the field problems, the
    problems across steps (also while fields are wrong: `stagent.domain.workflow_outline`), each
    step's run options and what ``check_step`` refuses (a runtime or profile this place lacks)."""
    if not isinstance(data, dict):
        found = Problem(
            "definition",
            "a workflow definition must be a mapping with name, pattern and steps",
            MAPPING_HINT,
            source,
        )
        error = WorkflowDefinitionError(f"{source}: {found.message}", hint=found.hint)
        error.problems = (found,)
        raise error
    mapping = cast(dict[str, Any], data)
    issues: list[ShapeIssue] = []
    context: dict[str, Any] = {"issues": issues}
    problems: list[Problem] = []
    definition: WorkflowDefinition | None = None
    try:
        definition = WorkflowDefinition.model_validate(mapping, context=context)
        outline = cast(Outline, context["outline"])
    except PydanticValidationError as exc:
        problems += _field_problems(exc, source, text, mapping)
        outline = outline_from_data(mapping)
        issues = shape_issues(outline, fresh=True)
    said = {(p.field, p.step) for p in problems}
    problems += [p for p in _text_problems(mapping, source, text) if (p.field, p.step) not in said]
    problems += [_shape_problem(issue, source, text, outline) for issue in issues]
    problems += _step_option_problems(outline, source, text)
    if check_step is not None:
        problems += step_problems(outline, check_step, source=source, text=text)
    if problems or definition is None:
        raise WorkflowDefinitionError.of(problems)
    return definition


def _field_problems(
    exc: PydanticValidationError, source: str, text: str | None, data: dict[str, Any]
) -> list[Problem]:
    kept = most_specific([field_hint(error, data) for error in exc.errors()])
    return [_placed(source, text, h, _step_id(data, h.path)) for h in kept]


def _text_problems(data: dict[str, Any], source: str, text: str | None) -> list[Problem]:
    """Every text of the definition (a value or a key, at any depth) that holds a NUL byte or a
    bidi control (`checked_plain`: PostgreSQL's text columns hold no NUL), at its place."""
    found: list[Problem] = []
    for path, value in _texts(data, []):
        try:
            checked_plain("field", value)
        except ValidationError as exc:
            said = FieldHint(path, exc.message.removeprefix("field: "), exc.hint or "remove it")
            found.append(_placed(source, text, said, _step_id(data, path)))
    return found


def _texts(node: object, path: list[str | int]) -> Iterable[tuple[list[str | int], str]]:
    """Each text in ``node`` with its path (a key is placed at itself)."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in cast(dict[object, object], node).items():
            yield from _texts(str(key), [*path, str(key)])
            yield from _texts(value, [*path, str(key)])
    elif isinstance(node, list | tuple):
        for index, item in enumerate(cast(list[object], node)):
            yield from _texts(item, [*path, index])


def _shape_problem(issue: ShapeIssue, source: str, text: str | None, outline: Outline) -> Problem:
    path = list(issue.path)
    steps = outline.steps or ()
    index = path[1] if len(path) >= 2 and isinstance(path[1], int) else None
    step = steps[index].id if index is not None and index < len(steps) else None
    message = issue.message
    if issue.other is not None:
        other = list(issue.other)
        found = position_of(text, other) if text is not None else None
        line = f", line {found[0]}" if found else ""
        message += f" ({format_path(other, empty='definition')}{line})"
    return _placed(source, text, FieldHint(path, message, issue.hint), step)


def _step_option_problems(outline: Outline, source: str, text: str | None) -> list[Problem]:
    from stagent.domain.run_options import parse_run_options

    problems: list[Problem] = []
    for index, step in enumerate(outline.steps or ()):
        if step.options is None:
            continue
        runtime = step.runtime or DEFAULT_STEP_RUNTIME
        try:
            parse_run_options({**step.options, "runtime": runtime}, prefix="options.")
        except ValidationError as exc:
            field, _, problem = exc.message.partition(": ")
            path: list[str | int] = ["steps", index, *field.split(".")]
            hint = exc.hint or "run options are the ones `stagent task add` takes"
            found = FieldHint(path, problem or exc.message, hint)
            problems.append(_placed(source, text, found, step.id))
    return problems


def step_problems(
    outline: Outline, check: StepCheck, *, source: str = "definition", text: str | None = None
) -> list[Problem]:
    """What ``check`` (a check outside the definition: an unknown runtime or profile) refuses
    of each step, placed as the definition's own problems are: file (``source``), line (given
    ``text``), step and field."""
    problems: list[Problem] = []
    for index, step in enumerate(outline.steps or ()):
        for field, problem, hint in check(step):
            found = FieldHint(["steps", index, field], problem, hint or f"fix {field}")
            problems.append(_placed(source, text, found, step.id))
    return problems


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


def _placed(source: str, text: str | None, found: FieldHint, step_id: str | None) -> Problem:
    field = format_path(found.path, empty="definition")
    position = position_of(text, found.path, at_key=found.at_key) if text is not None else None
    line, column = position if position else (None, None)
    return Problem(field, found.message, found.hint, source, line, column, step_id)
