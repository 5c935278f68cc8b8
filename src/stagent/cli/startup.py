"""Garbage collection while the CLI starts: off until the command's modules are loaded.

A command imports tens of thousands of objects (SQLAlchemy, pydantic, Typer) before it does
anything; the collector would walk them again and again as they pile up, a fifth of a short
command's time. `main` turns it off; `ready` (called once the workspace is open, or by a command
that runs long without one) moves everything loaded so far out of the collector's sight and turns
it back on, so long-running commands (``serve``, ``worker``, a run) collect as usual.
"""

from __future__ import annotations

import gc


def starting() -> None:
    """Stop collecting garbage while modules load."""
    gc.disable()


def ready() -> None:
    """Start-up is over: freeze what is loaded (never collected again) and collect as usual."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def exiting() -> None:
    """Spare the interpreter's last pass over every loaded module (freed by the exit anyway)."""
    gc.freeze()
