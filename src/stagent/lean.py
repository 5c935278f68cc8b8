"""Third-party modules imported without an optional companion a short process never uses.

msgspec imports ``typing_extensions`` when it is installed (for its ``get_type_hints``,
``Required`` and ``NotRequired``), and ``typing_extensions`` imports `inspect` (with ``ast``,
``dis``, ``tokenize``): about a tenth of a ``stagent ledger import`` re-run's start-up, for
nothing such a run decodes. Without it msgspec falls back to `typing`'s own, which on Python
3.11+ are the same for every type Stagent gives msgspec (Structs of builtin types).
`load_msgspec` imports msgspec that way in a process that has not loaded ``typing_extensions``
(the Claude Code parser imports msgspec through it: in the CLI's express lane nothing has);
where something already has (pydantic: a server, a workspace) msgspec imports as usual.
``typing_extensions`` stays importable after.

msgspec's ``_core`` also imports `uuid`, which on Linux imports `platform` only to call
``platform.system()`` once (`platform` compiles nine regular expressions as it loads: ~9M
instructions, ~1.5 % of a re-run's main process). Where neither is loaded yet, `uuid` loads
with a stand-in `platform` whose ``system()`` is what the real one returns on POSIX
(``os.uname().sysname``); the stand-in leaves ``sys.modules`` at once, so `platform` imports
as usual after (`tests/ledger/test_lean.py`).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from types import ModuleType

BLOCKED = "typing_extensions"
"""What `load_msgspec` keeps msgspec from importing."""


def load_msgspec() -> None:
    """Import msgspec (once), without ``typing_extensions`` unless it is already loaded."""
    if "msgspec" in sys.modules or BLOCKED in sys.modules:
        return
    sys.modules[BLOCKED] = None  # pyright: ignore[reportArgumentType] (import raises ImportError)
    try:
        _load_uuid()
        import_module("msgspec")  # its `try: from typing_extensions import ...` falls back
    finally:
        del sys.modules[BLOCKED]


def _load_uuid() -> None:
    """Import `uuid` (msgspec's ``_core`` does) with a stand-in `platform` if neither is
    loaded, on POSIX (elsewhere `uuid` asks `platform` nothing or the answer differs)."""
    if "uuid" in sys.modules or "platform" in sys.modules or os.name != "posix":
        return
    stand_in = ModuleType("platform", "platform.system() only, while uuid loads (stagent.lean)")
    stand_in.system = lambda: os.uname().sysname  # pyright: ignore[reportAttributeAccessIssue]
    sys.modules["platform"] = stand_in
    try:
        import_module("uuid")
    finally:
        del sys.modules["platform"]
