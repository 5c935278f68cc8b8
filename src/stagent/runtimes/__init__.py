"""Runtime adapters behind one small interface (`Runtime`)."""

from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
)

__all__ = [
    "AgentRun",
    "PermissionDecision",
    "PermissionGate",
    "PermissionRequest",
    "RunRequest",
    "Runtime",
    "RuntimeCapabilities",
]
