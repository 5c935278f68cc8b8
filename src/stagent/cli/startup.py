"""Garbage collection while the CLI starts: off until the command's modules are loaded.

A command imports tens of thousands of objects (SQLAlchemy, pydantic, Typer) before it does
anything; the collector would walk them again and again as they pile up, a fifth of a short
command's time. `main` turns it off; `ready` (called once the workspace is open, or by a command
that runs long without one) moves everything loaded so far out of the collector's sight and turns
it back on, so long-running commands (``serve``, ``worker``, a run) collect as usual.
"""

from __future__ import annotations

import gc
import os
import sys
import types
from collections.abc import Iterable

PYDANTIC_PLUGIN_LOADER = "pydantic.plugin._loader"


def starting() -> None:
    """Stop collecting garbage while modules load; look for no pydantic plugins."""
    gc.disable()
    skip_pydantic_plugins()


def skip_pydantic_plugins() -> None:
    """Stand in for pydantic's plugin loader: Stagent uses no pydantic plugin.

    The real loader imports `importlib.metadata` (the ``email`` package with it) and reads the
    entry points of every installed distribution the first time a model is validated: about a
    tenth of ``stagent task list``. Set ``PYDANTIC_DISABLE_PLUGINS`` to anything but ``__all__``
    (e.g. an empty value or a plugin's name) to keep pydantic's own loader.
    """
    wanted = os.environ.get("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if wanted != "__all__" or PYDANTIC_PLUGIN_LOADER in sys.modules:
        return
    loader = types.ModuleType(PYDANTIC_PLUGIN_LOADER, "No pydantic plugins (stagent.cli.startup).")

    def get_plugins() -> Iterable[object]:
        return ()

    loader.get_plugins = get_plugins  # pyright: ignore[reportAttributeAccessIssue]
    sys.modules[PYDANTIC_PLUGIN_LOADER] = loader


def ready() -> None:
    """Start-up is over: freeze what is loaded (never collected again) and collect as usual."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def exiting() -> None:
    """Spare the interpreter's last pass over every loaded module (freed by the exit anyway)."""
    gc.freeze()


def leave_at_exit(code: int) -> None:
    """Once the interpreter starts to exit, end the process with ``code`` at once (after
    flushing stdout and stderr), skipping the teardown of every loaded module: ~3-5 ms of a
    ``ledger import`` re-run's ~0.1 s. For a command that has closed everything it opened (the
    express lane's import); registered last, so it runs before any other exit handler."""
    import atexit

    atexit.register(_leave, code)


def _leave(code: int) -> None:
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe or stream: let the usual exit report it
        return
    os._exit(code)
