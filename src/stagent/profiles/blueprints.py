"""Blueprints: workflow templates with variables (how a job is done), loaded from YAML.

A blueprint names a pattern, declares typed variables and lists steps whose prompts are
templates (`stagent.profiles.templating`). Built-ins ship in ``blueprints/``; user blueprints in
``$STAGENT_HOME/blueprints/<id>.yaml`` override a built-in with the same id. Keys are
snake_case or the original Stagent's camelCase (``profileId``, ``promptTemplate``,
``requiresApproval``). Errors name the file, the field and the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self, cast

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from stagent.domain.errors import NotFoundError, Problem, ValidationError
from stagent.domain.workflow_hints import (
    EXAMPLES,
    FieldHint,
    Vocabulary,
    field_hints,
    rule,
)
from stagent.domain.workflows import Pattern
from stagent.profiles._yaml import LocatedText
from stagent.profiles.models import ID_PATTERN, SEMVER, Domain
from stagent.profiles.templating import TemplateError, check_template

BUILTIN_BLUEPRINTS = Path(__file__).parent / "blueprints"
HINT = "see the blueprint format in the README (Blueprints)"
PROMPT_KEYS = ("prompt", "promptTemplate", "prompt_template")
VariableType = Literal["text", "textarea", "select", "number", "boolean", "file"]


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
    )


class Option(_Spec):
    """One choice of a select variable."""

    value: str
    label: str = ""


class Variable(_Spec):
    """A value the person fills in when running the blueprint."""

    id: str = Field(pattern=r"^[A-Za-z_][\w-]*$")
    type: VariableType = "text"
    label: str = ""
    description: str | None = None
    required: bool = False
    default: str | int | float | bool | None = None
    placeholder: str | None = None
    options: tuple[Option, ...] = ()
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        if self.type == "select" and not self.options:
            raise rule(
                "a select variable needs options",
                "add options: [{value: small}, {value: large}], or choose another type",
            )
        if self.options and self.type != "select":
            raise rule(
                "options: only a select variable has options", "set type: select, or remove options"
            )
        if (self.min is not None or self.max is not None) and self.type != "number":
            raise rule(
                "min/max: only a number variable has bounds",
                "set type: number, or remove min and max",
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise rule("min is greater than max", "swap min and max")
        return self


class BlueprintStep(_Spec):
    """A step template."""

    id: str | None = None
    name: str = Field(min_length=1)
    profile: str = Field(validation_alias=AliasChoices("profile", "profileId", "profile_id"))
    prompt: str = Field(
        min_length=1, validation_alias=AliasChoices("prompt", "promptTemplate", "prompt_template")
    )
    requires_approval: bool = False
    condition: str | None = None
    expected_output: str | None = None
    """Appended to the prompt as what the step must produce."""
    depends_on: tuple[str, ...] = ()
    runtime: str | None = None
    model: str | None = None


class Blueprint(_Spec):
    """A whole blueprint file."""

    id: str
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    version: str = "1.0.0"
    domain: Domain = "work"
    tags: tuple[str, ...] = ()
    pattern: Pattern
    author: str | None = None
    source: str | None = None
    estimated_duration: str | None = None
    difficulty: Literal["beginner", "intermediate", "advanced"] | None = None
    variables: tuple[Variable, ...] = ()
    steps: tuple[BlueprintStep, ...] = Field(min_length=1)
    parallel: dict[str, Any] | None = None
    loop: dict[str, Any] | None = None
    swarm: dict[str, Any] | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ID_PATTERN.match(value):
            raise rule(
                "must be lowercase letters, digits and hyphens",
                "e.g. id: my-blueprint (a user blueprint's file is then my-blueprint.yaml)",
            )
        return value

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not SEMVER.match(value):
            raise rule(f"{value!r} is not a semantic version", "e.g. version: 1.0.0")
        return value

    def variable(self, name: str) -> Variable | None:
        """The variable called ``name``."""
        return next((v for v in self.variables if v.id == name), None)


WORDS = Vocabulary(
    Blueprint,
    {
        **EXAMPLES,
        "id": "id: my-blueprint",
        "description": "description: What this blueprint does",
        "version": "version: 1.0.0",
        "profile": "profile: researcher",
        "prompt": "prompt: Research {{topic}}",
        "type": "type: text",
        "value": "value: small",
        "min": "min: 1",
        "max": "max: 10",
        "tags": "tags: [research]",
        "variables": "variables: [{id: topic, type: text, required: true}]",
        "domain": "domain: work",
    },
    "the blueprint",
    {"steps": "every step", "variables": "every variable", "options": "every option"},
)
"""What a blueprint's field problems say (`stagent.domain.workflow_hints`)."""


def parse_blueprint(text: str, source: str) -> Blueprint:
    """Validate blueprint YAML: an error lists every problem, each naming ``source``, the line,
    the field (and step) with its own fix."""
    located = LocatedText(source, text)
    raw = located.load("blueprint", HINT)
    if not isinstance(raw, dict):
        found = FieldHint([], "a blueprint must be a mapping (id, name, pattern, steps ...)", HINT)
        raise ValidationError.listing([_placed(located, found, {})])
    data = cast(dict[str, Any], raw)
    problems: list[Problem] = []
    blueprint: Blueprint | None = None
    try:
        blueprint = Blueprint.model_validate(data)
    except PydanticValidationError as exc:
        problems += [_placed(located, hint, data) for hint in field_hints(exc, data, WORDS)]
    problems += [_placed(located, hint, data) for hint in _template_hints(data)]
    if problems or blueprint is None:
        raise ValidationError.listing(problems)
    return blueprint


def _template_hints(data: dict[str, Any]) -> list[FieldHint]:
    """Duplicate variables and the templates' problems, read from the raw data (so they come
    with the field problems, not after them)."""
    hints: list[FieldHint] = []
    variables = data.get("variables")
    listed = cast(list[Any], variables) if isinstance(variables, list) else []
    names: list[object] = [
        cast(dict[str, Any], v).get("id") if isinstance(v, dict) else None for v in listed
    ]
    declared = {n for n in names if isinstance(n, str)}
    seen: set[str] = set()
    for index, name in enumerate(names):
        if isinstance(name, str) and name in seen:
            hints.append(
                FieldHint(
                    ["variables", index, "id"],
                    f"{name!r} is declared twice",
                    f"give each variable its own id, or remove this one (e.g. id: {name}_2)",
                )
            )
        if isinstance(name, str):
            seen.add(name)
    steps = data.get("steps")
    for index, step in enumerate(cast(list[Any], steps) if isinstance(steps, list) else []):
        if not isinstance(step, dict):
            continue
        fields = cast(dict[str, Any], step)
        for key in (*PROMPT_KEYS, "condition", "name"):
            template = fields.get(key)
            if not isinstance(template, str):
                continue
            try:
                check_template(template, declared)
            except TemplateError as exc:
                hints.append(FieldHint(["steps", index, key], str(exc), exc.hint or HINT))
    return hints


def _placed(located: LocatedText, found: FieldHint, data: dict[str, Any]) -> Problem:
    return located.place(found, "blueprint", _step(data, found.path))


def _step(data: dict[str, Any], path: list[str | int]) -> str | None:
    """The id (or name) of the step ``path`` is in."""
    steps = data.get("steps")
    if len(path) < 2 or path[0] != "steps" or not isinstance(path[1], int):
        return None
    if not isinstance(steps, list) or path[1] >= len(cast(list[Any], steps)):
        return None
    step = cast(list[Any], steps)[path[1]]
    if not isinstance(step, dict):
        return None
    named = cast(dict[str, Any], step).get("id") or cast(dict[str, Any], step).get("name")
    return named if isinstance(named, str) else None


def load_blueprint_file(path: Path) -> Blueprint:
    """Read and validate one blueprint file; its id must match the file name."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read it ({exc})") from None
    blueprint = parse_blueprint(text, str(path))
    if blueprint.id != path.stem:
        found = FieldHint(
            ["id"],
            f"{blueprint.id!r} does not match the file name {path.name!r}",
            f"set id: {path.stem}, or rename the file to {blueprint.id}.yaml",
        )
        raise ValidationError.listing([_placed(LocatedText(str(path), text), found, {})])
    return blueprint


@dataclass
class BlueprintCatalog:
    """Built-in and user blueprints (user overrides built-in by id)."""

    user_dir: Path
    builtin_dir: Path = BUILTIN_BLUEPRINTS
    blueprints: dict[str, tuple[Blueprint, str]] = field(default_factory=lambda: {})
    problems: list[tuple[str, ValidationError]] = field(default_factory=lambda: [])

    @classmethod
    def load(cls, user_dir: Path, builtin_dir: Path = BUILTIN_BLUEPRINTS) -> BlueprintCatalog:
        """Load both scopes; a broken built-in raises, a broken user file becomes a problem."""
        catalog = cls(user_dir, builtin_dir)
        for scope, root in (("builtin", builtin_dir), ("user", user_dir)):
            for path in sorted(root.glob("*.yaml")) if root.is_dir() else []:
                try:
                    catalog.blueprints[path.stem] = (load_blueprint_file(path), scope)
                except ValidationError as error:
                    if scope == "builtin":
                        raise
                    catalog.problems.append((path.stem, error))
        return catalog

    def get(self, blueprint_id: str) -> Blueprint:
        """A blueprint by id (or its load error)."""
        if blueprint_id in self.blueprints:
            return self.blueprints[blueprint_id][0]
        problem = next((e for i, e in self.problems if i == blueprint_id), None)
        if problem is not None:
            raise problem
        raise NotFoundError(
            f"no blueprint {blueprint_id!r}", hint=f"known: {', '.join(sorted(self.blueprints))}"
        )

    def scope_of(self, blueprint_id: str) -> str:
        """``builtin`` or ``user``."""
        return self.blueprints[blueprint_id][1]

    def all(self) -> list[Blueprint]:
        """Every blueprint by name."""
        return sorted((b for b, _ in self.blueprints.values()), key=lambda b: b.name.lower())
