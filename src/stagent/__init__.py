"""Stagent: a local-first ops layer for AI agents.

Route agent work (tasks, workflows, schedules), supervise it (tool approvals, budgets) and
measure it (one cost ledger across runtimes). The public surface is re-exported here, loaded on
first access so that ``import stagent`` (and every CLI command) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagent.domain.errors import StagentError
    from stagent.settings import Settings

__all__ = ["Settings", "StagentError", "__version__"]

__version__ = "0.1.0"

_EXPORTS = {"Settings": "stagent.settings", "StagentError": "stagent.domain.errors"}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stagent' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
