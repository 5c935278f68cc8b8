"""Stagent: a local-first ops layer for AI agents.

Route agent work (tasks, workflows, schedules), supervise it (tool approvals, budgets) and
measure it (one cost ledger across runtimes). The public surface is re-exported here.
"""

from stagent.domain.errors import StagentError
from stagent.settings import Settings

__all__ = ["Settings", "StagentError", "__version__"]

__version__ = "0.1.0"
