"""Run options on the command line: ``--options`` (JSON, YAML or @FILE) and shortcut flags."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer

from stagent.domain.errors import ValidationError

ModelOption = Annotated[str | None, typer.Option(help="The model the runtime uses.")]
MaxTurnsOption = Annotated[int | None, typer.Option(help="Stop a run after this many turns.")]
MaxBudgetOption = Annotated[
    str | None, typer.Option(help="A run's own spending cap in USD (a budget may lower it).")
]
OptionsOption = Annotated[
    str | None,
    typer.Option(
        "--options",
        help="Run options as JSON or YAML, or @FILE: model, instructions, allowed_tools, "
        "tool_policy, limits, working_directory, and the runtime's own (claude, codex ...).",
    ),
]


def cli_options(
    base: dict[str, Any],
    text: str | None,
    model: str | None,
    max_turns: int | None,
    max_budget: str | None,
) -> dict[str, Any]:
    """Run options from ``--options`` and the shortcut flags, over ``base``. Checked by the
    service, whose errors name the option (``options.limits.max_turns: ...``)."""
    options = dict(base)
    if text is not None:
        options = load_options_text(text)
    limits: dict[str, Any] = dict(options.get("limits") or {})
    if model is not None:
        options["model"] = model
    if max_turns is not None:
        limits["max_turns"] = max_turns
    if max_budget is not None:
        limits["max_budget_usd"] = max_budget
    if limits:
        options["limits"] = limits
    return options


def load_options_text(text: str) -> dict[str, Any]:
    """``--options``: inline JSON/YAML, or ``@path`` to a file holding it."""
    source = "--options"
    if text.startswith("@"):
        path = Path(text[1:]).expanduser()
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise ValidationError(f"--options: cannot read {path}: {exc.strerror}") from None
        source = str(path)
    import yaml  # only when --options is given

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValidationError(
            f"{source}: not valid JSON or YAML", hint='e.g. --options \'{"model": "m"}\''
        ) from None
    if not isinstance(data, dict):
        raise ValidationError(f"{source}: run options must be a mapping of option names")
    return cast(dict[str, Any], data)
