"""Turning Board and Projects form input into service-layer values."""

from __future__ import annotations

from typing import Any

import yaml

from stagent.domain.errors import ScenarioError
from stagent.runtimes.scenario import parse_scenario


def blank_to_none(value: str | None) -> str | None:
    """Form selects send ``""`` for "none"."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def parse_scenario_text(text: str | None) -> dict[str, Any] | None:
    """Parse the scenario textarea (JSON or YAML); blank means the runtime's default scenario.

    Errors name the line and the field, like scenario files do.
    """
    if text is None or not text.strip():
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise ScenarioError(
            f"scenario{line}: {problem}", hint="the scenario is YAML or JSON"
        ) from None
    parse_scenario(data, source="scenario", text=text)
    return data


def form_options(
    current: dict[str, Any], *, model: str, max_turns: str, max_budget_usd: str
) -> dict[str, Any]:
    """The run options after the form's fields: blank removes an option. Values are checked by
    the service, whose errors name the option (``options.limits.max_turns: ...``)."""
    options = dict(current)
    limits: dict[str, Any] = dict(options.pop("limits", None) or {})
    for key, text in (("max_turns", max_turns), ("max_budget_usd", max_budget_usd)):
        value = blank_to_none(text)
        if value is None:
            limits.pop(key, None)
        else:
            limits[key] = value
    options.pop("model", None)
    if blank_to_none(model):
        options["model"] = model.strip()
    if limits:
        options["limits"] = limits
    return options
