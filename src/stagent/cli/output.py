"""Where the CLI writes: a Rich console for people, plain JSON for programs.

In ``--json`` mode a command writes exactly one JSON document (or, for long-running commands,
one JSON object per line) to stdout and nothing else; prose and errors for people go through
`console` and `err_console`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from stagent.cli.consoles import console, err_console
from stagent.cli.jsonout import emit_json

JSON_MODE_KEY = "stagent.json"
"""Key in the shared Click ``ctx.meta`` that records whether ``--json`` was given."""


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


__all__ = [
    "JSON_MODE_KEY",
    "JsonFlag",
    "console",
    "emit_json",
    "err_console",
    "json_mode_requested",
]
