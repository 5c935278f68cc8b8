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

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.workflows import Pattern
from stagent.profiles._yaml import LocatedText
from stagent.profiles.models import ID_PATTERN, SEMVER, Domain
from stagent.profiles.templating import TemplateError, check_template

BUILTIN_BLUEPRINTS = Path(__file__).parent / "blueprints"
HINT = "see the blueprint format in the README (Blueprints)"
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
            raise ValueError("a select variable needs options")
        if self.options and self.type != "select":
            raise ValueError("options: only a select variable has options")
        if (self.min is not None or self.max is not None) and self.type != "number":
            raise ValueError("min/max: only a number variable has bounds")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
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

    @model_validator(mode="after")
    def _identity(self) -> Self:
        if not ID_PATTERN.match(self.id):
            raise ValueError("id: must be lowercase letters, digits and hyphens")
        if not SEMVER.match(self.version):
            raise ValueError(f"version: {self.version!r} is not a semantic version")
        return self

    def variable(self, name: str) -> Variable | None:
        """The variable called ``name``."""
        return next((v for v in self.variables if v.id == name), None)


def parse_blueprint(text: str, source: str) -> Blueprint:
    """Validate blueprint YAML; errors name ``source``, the line and the field."""
    located = LocatedText(source, text)
    raw = located.load(HINT)
    if not isinstance(raw, dict):
        raise located.error(
            [], "a blueprint must be a mapping (id, name, pattern, steps ...)", HINT
        )
    data = cast(dict[str, Any], raw)
    try:
        blueprint = Blueprint.model_validate(data)
    except PydanticValidationError as exc:
        raise located.from_pydantic(exc, HINT) from None
    _check_templates(blueprint, located)
    return blueprint


def _check_templates(blueprint: Blueprint, located: LocatedText) -> None:
    declared = {v.id for v in blueprint.variables}
    names = [v.id for v in blueprint.variables]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        index = len(names) - 1 - names[::-1].index(duplicate)
        raise located.error(["variables", index, "id"], f"{duplicate!r} is declared twice", HINT)
    for index, step in enumerate(blueprint.steps):
        for key in ("prompt", "condition", "name"):
            template = getattr(step, key)
            if not template:
                continue
            try:
                check_template(template, declared)
            except TemplateError as exc:
                path_key = _raw_key(located, index, key)
                raise located.error(["steps", index, path_key], str(exc), HINT) from None


def _raw_key(located: LocatedText, index: int, key: str) -> str:
    raw = cast(dict[str, Any], located.load(HINT))
    steps = cast(list[dict[str, Any]], raw.get("steps") or [])
    aliases = {"prompt": ("prompt", "promptTemplate", "prompt_template")}.get(key, (key,))
    step = steps[index] if index < len(steps) else {}
    return next((a for a in aliases if a in step), key)


def load_blueprint_file(path: Path) -> Blueprint:
    """Read and validate one blueprint file; its id must match the file name."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read it ({exc})") from None
    blueprint = parse_blueprint(text, str(path))
    if blueprint.id != path.stem:
        raise LocatedText(str(path), text).error(
            ["id"], f"{blueprint.id!r} does not match the file name {path.name!r}", HINT
        )
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
