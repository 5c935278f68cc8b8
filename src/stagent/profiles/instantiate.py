"""Turn a blueprint and the person's variable values into a validated workflow definition.

1. Unknown variable names are refused; values are coerced to their declared type (the CLI and
   forms give text) and checked (required, select options, number bounds, file exists).
2. Defaults fill what was not given.
3. Prompts and names are rendered; a step whose condition renders falsy is skipped, and the
   steps that depended on it no longer wait for it. Skipping every step is an error.
4. Each step's profile must exist (and support the step's runtime, when one is named).
5. The result is a `WorkflowDefinition`, validated for its pattern.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from stagent.domain.errors import ValidationError
from stagent.domain.limits import checked_plain
from stagent.domain.workflow_files import WorkflowDefinitionError, parse_definition
from stagent.domain.workflows import WorkflowDefinition
from stagent.profiles.blueprints import Blueprint, BlueprintStep, Variable
from stagent.profiles.catalog import ProfileCatalog
from stagent.profiles.options import check_runtime
from stagent.profiles.templating import Value, render, truthy

TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off", ""}


@dataclass(frozen=True, slots=True)
class Instance:
    """A resolved blueprint: the definition and the steps its conditions skipped."""

    definition: WorkflowDefinition
    values: dict[str, Value]
    skipped: tuple[str, ...]


def coerce(variable: Variable, raw: object) -> Value:
    """``raw`` as the variable's type, or a `ValidationError` naming the variable."""
    where = f"variable {variable.id}"
    if raw is None or (isinstance(raw, str) and raw.strip() == "" and variable.type != "boolean"):
        return None
    if variable.type == "boolean":
        if isinstance(raw, bool):
            return raw
        word = str(raw).strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValidationError(f"{where}: {raw!r} is not true or false")
    if variable.type == "number":
        return _number(variable, raw, where)
    text = checked_plain(where, str(raw))
    if variable.type == "select":
        allowed = [o.value for o in variable.options]
        if text not in allowed:
            raise ValidationError(f"{where}: {text!r} is not one of {', '.join(allowed)}")
    if variable.type == "file" and not Path(text).expanduser().exists():
        raise ValidationError(f"{where}: no such file {text}", hint="give a path that exists")
    return text


def _number(variable: Variable, raw: object, where: str) -> Value:
    try:
        value = float(str(raw)) if not isinstance(raw, int | float) else float(raw)
    except ValueError:
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value):  # true, nan and inf are no count
        raise ValidationError(f"{where}: {raw!r} is not a number")
    if variable.min is not None and value < variable.min:
        raise ValidationError(f"{where}: {raw} is below the minimum {variable.min:g}")
    if variable.max is not None and value > variable.max:
        raise ValidationError(f"{where}: {raw} is above the maximum {variable.max:g}")
    return int(value) if value.is_integer() else value


def resolve_values(blueprint: Blueprint, given: Mapping[str, object]) -> dict[str, Value]:
    """Check, coerce and default the variable values."""
    unknown = sorted(set(given) - {v.id for v in blueprint.variables})
    if unknown:
        known = ", ".join(v.id for v in blueprint.variables) or "none"
        raise ValidationError(
            f"variable {unknown[0]}: {blueprint.id} has no such variable",
            hint=f"its variables: {known}",
        )
    values: dict[str, Value] = {}
    for variable in blueprint.variables:
        value = coerce(variable, given.get(variable.id))
        if value is None and variable.default is not None:
            value = coerce(variable, variable.default)
        if value is None and variable.required:
            label = variable.label or variable.id
            raise ValidationError(
                f"variable {variable.id}: {label} is required",
                hint=f"give it with --var {variable.id}=...",
            )
        values[variable.id] = value
    return values


def step_id(step: BlueprintStep, index: int, taken: set[str]) -> str:
    """The step's id, or one made from its name (unique within the workflow)."""
    base = step.id or re.sub(r"[^a-z0-9]+", "-", step.name.lower()).strip("-")[:60] or "step"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    del index
    return candidate


def instantiate(
    blueprint: Blueprint,
    given: Mapping[str, object],
    profiles: ProfileCatalog | None = None,
    *,
    runtime: str | None = None,
) -> Instance:
    """Resolve ``blueprint`` with ``given`` values into a validated workflow definition;
    ``runtime`` runs every step that names none (each step's profile must support it)."""
    values = resolve_values(blueprint, given)
    taken: set[str] = set()
    ids: list[str] = []
    for index, step in enumerate(blueprint.steps):
        ids.append(step_id(step, index, taken))
        taken.add(ids[-1])
    kept: list[tuple[str, BlueprintStep]] = []
    skipped: list[str] = []
    for sid, step in zip(ids, blueprint.steps, strict=True):
        if step.condition is not None and not _holds(step.condition, values):
            skipped.append(sid)
        else:
            kept.append((sid, step))
    if not kept:
        raise ValidationError(
            f"{blueprint.id}: every step was skipped by its condition",
            hint="set the variables the conditions test",
        )
    steps = [_step(sid, step, values, set(skipped), profiles, runtime) for sid, step in kept]
    data = {
        "name": _name(blueprint, values),
        "pattern": blueprint.pattern,
        "steps": steps,
        **_settings(blueprint, values),
        "blueprint": {"id": blueprint.id, "version": blueprint.version, "variables": values},
    }
    try:
        definition = parse_definition(data, source=blueprint.id)
    except WorkflowDefinitionError as exc:
        listed = "; ".join(
            f"{p.field}{f' (step {p.step})' if p.step else ''} {p.message}" for p in exc.problems
        )
        error = ValidationError(
            f"{blueprint.id}: the resolved workflow is not valid: {listed}",
            hint="the variables given change which steps run; check the blueprint's conditions",
        )
        error.problems = exc.problems
        raise error from None
    return Instance(definition, values, tuple(skipped))


def _holds(condition: str, values: Mapping[str, Value]) -> bool:
    text = render(condition, values).strip()
    return truthy(text) and text.lower() not in ("false", "0", "no")


def _step(
    sid: str,
    step: BlueprintStep,
    values: Mapping[str, Value],
    skipped: set[str],
    profiles: ProfileCatalog | None,
    default_runtime: str | None = None,
) -> dict[str, Any]:
    runtime = step.runtime or default_runtime
    if profiles is not None:
        profile = profiles.get(step.profile)
        if runtime:
            try:
                check_runtime(profile, runtime)
            except ValidationError as exc:
                raise ValidationError(f"step {sid}: {exc.message}", hint=exc.hint) from None
    prompt = render(step.prompt, values)
    if step.expected_output:
        prompt += f"\n\nExpected output: {render(step.expected_output, values)}"
    data: dict[str, Any] = {
        "id": sid,
        "name": render(step.name, values) or step.name,
        "prompt": prompt,
        "profile": step.profile,
        "requires_approval": step.requires_approval,
        "depends_on": [d for d in step.depends_on if d not in skipped],
    }
    if runtime:
        data["runtime"] = runtime
    if step.model:
        data["model"] = step.model
    return data


def _settings(blueprint: Blueprint, values: Mapping[str, Value]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("parallel", "loop", "swarm"):
        raw = cast(dict[str, Any] | None, getattr(blueprint, key))
        if raw is None:
            continue
        out[key] = {
            _snake(k): render(v, values) if isinstance(v, str) and "{{" in v else v
            for k, v in raw.items()
        }
    return out


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _name(blueprint: Blueprint, values: Mapping[str, Value]) -> str:
    first = next((str(v) for v in values.values() if truthy(v)), "")
    name = f"{blueprint.name}: {first}" if first else blueprint.name
    return name[:100]
