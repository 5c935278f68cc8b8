"""What the scheduler needs to fire workflows and blueprints, without importing the engine or
the profiles (the composition root, `stagent.workspace`, passes an implementation)."""

from __future__ import annotations

from typing import Protocol

from stagent.domain.schedules import Target
from stagent.domain.workflows import WorkflowDefinition


class WorkflowTargets(Protocol):
    """Checks and starts the workflow and blueprint targets of schedules."""

    def check(self, target: Target) -> Target:
        """Refuse a target that cannot fire (no such workflow or blueprint, bad variables, a
        step that cannot run); returns it with a workflow named by its id."""
        ...

    def definition(self, target: Target) -> WorkflowDefinition:
        """A blueprint target instantiated with its variables, checked to run."""
        ...

    def check_runnable(self, definition: WorkflowDefinition) -> None:
        """Raise the reason a stored workflow cannot run now."""
        ...

    def require_ready(self, definition: WorkflowDefinition) -> None:
        """Raise `RuntimeUnavailableError` naming each step whose runtime cannot run here now
        (no key, no login, no binary), with its fix."""
        ...

    def start(self, engine_id: str, workflow_id: str, run_number: int) -> None:
        """Hand a started run to the workflow queue (nothing if the engine already has it)."""
        ...
