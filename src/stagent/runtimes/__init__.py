"""Runtime adapters behind one small interface (`Runtime`)."""

from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
)

__all__ = [
    "AgentRun",
    "PermissionDecision",
    "PermissionGate",
    "RunRequest",
    "Runtime",
    "RuntimeCapabilities",
]
