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
"""

from __future__ import annotations

import sys
from importlib import import_module

BLOCKED = "typing_extensions"
"""What `load_msgspec` keeps msgspec from importing."""


def load_msgspec() -> None:
    """Import msgspec (once), without ``typing_extensions`` unless it is already loaded."""
    if "msgspec" in sys.modules or BLOCKED in sys.modules:
        return
    sys.modules[BLOCKED] = None  # pyright: ignore[reportArgumentType] (import raises ImportError)
    try:
        import_module("msgspec")  # its `try: from typing_extensions import ...` falls back
    finally:
        del sys.modules[BLOCKED]
