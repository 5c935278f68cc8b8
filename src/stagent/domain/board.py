"""The Board's values: a column's counts and where a page of cards ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Count:
    """A status's tasks (not deleted): all of them, and those that run workflow steps."""

    tasks: int = 0
    steps: int = 0

    @property
    def own(self) -> int:
        """The tasks that are not workflow steps."""
        return self.tasks - self.steps


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last task's creation time and id (the Board's order is newest
    first, then by id)."""

    created_at: datetime
    id: str
