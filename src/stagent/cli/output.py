"""Where the CLI writes: a Rich console for people, plain JSON for programs.

In ``--json`` mode a command writes exactly one JSON document (or, for long-running commands,
one JSON object per line) to stdout and nothing else; prose and errors for people go through
`console` and `err_console`.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console

JSON_MODE_KEY = "stagent.json"
"""Key in the shared Click ``ctx.meta`` that records whether ``--json`` was given."""

console = Console(highlight=False, soft_wrap=True)
"""Human output on stdout (Rich resolves ``sys.stdout`` lazily, so test runners can capture it)."""

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
"""Errors, hints and progress for people, on stderr."""


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    """Record ``--json`` in the context chain so the error printer can honour it."""
    if value:
        ctx.meta[JSON_MODE_KEY] = True
    return value


JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print only machine-readable JSON on stdout.",
        callback=_remember_json,
        is_eager=True,
    ),
]
"""The ``--json`` option every command takes."""


def json_mode_requested(ctx: typer.Context | None) -> bool:
    """True if the command being run was given ``--json``."""
    return bool(ctx is not None and ctx.meta.get(JSON_MODE_KEY))


def emit_json(data: Any, *, compact: bool = False) -> None:
    """Write ``data`` to stdout as JSON (datetimes and paths become strings) and flush."""
    text = json.dumps(
        data,
        indent=None if compact else 2,
        ensure_ascii=False,
        default=str,
    )
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
