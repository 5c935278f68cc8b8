"""The permission gate in force until the governance capability lands.

It allows every tool call and says so in the decision, so the task log shows that no rule and no
person approved it. Governance replaces it with rules and the approval inbox.
"""

from __future__ import annotations

from stagent.runtimes.base import PermissionDecision, PermissionRequest


class UngovernedGate:
    """Allows everything, and records that it did so without governance."""

    decided_by = "no governance configured (allowed without a rule)"

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Allow the call."""
        del request
        return PermissionDecision(allowed=True, decided_by=self.decided_by)
