"""``--json`` output: one JSON document on stdout (no Typer, no Rich: `stagent.cli.output`
re-exports it)."""

from __future__ import annotations

import json
import sys
from typing import Any


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
