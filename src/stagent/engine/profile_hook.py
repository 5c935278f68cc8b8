"""What the engine needs from profiles, without importing them (profiles sit beside the engine).

The workspace passes `stagent.profiles.service.ProfileService`, which satisfies this protocol.
`TaskService` checks a task's profile when it is created or edited, and resolves it when a run
is queued: the profile's options are merged into the run's options then, so the executor, the
runtimes, the budget guard and the permission gate all see the same resolved values.
"""

from __future__ import annotations

from typing import Any, Protocol


class ProfileResolver(Protocol):
    """Checks and resolves a task's profile."""

    def check(self, profile_id: str, runtime: str) -> None:
        """Raise a `ValidationError` if the profile is unknown or does not support ``runtime``."""
        ...

    def resolve(
        self, profile_id: str, runtime: str, title: str, description: str, config: dict[str, Any]
    ) -> tuple[str, dict[str, Any], str]:
        """The profile id in use (``auto`` is routed), ``config`` with its options, and a note
        for the task's log."""
        ...
