"""What an edit changes in a workflow definition: steps added, removed and changed (with the
fields that changed), and the settings outside the steps (name, pattern, a pattern's own).

Pure: two validated definitions in, a `DefinitionChanges` out. The CLI prints it after
``stagent workflow edit``; the API returns it beside the edited workflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagent.domain.workflow_runs import Workflow
from stagent.domain.workflows import WorkflowDefinition


@dataclass(frozen=True, slots=True)
class StepChange:
    """A step in both definitions whose fields differ (``fields`` in the step's field order)."""

    id: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DefinitionChanges:
    """The difference between a stored definition and its edit."""

    added: tuple[str, ...] = ()
    """Ids of steps only the edit has, in its order."""
    removed: tuple[str, ...] = ()
    """Ids of steps only the stored definition had, in its order."""
    changed: tuple[StepChange, ...] = ()
    """Steps in both whose fields differ, in the edit's order."""
    settings: tuple[str, ...] = ()
    """Fields outside ``steps`` that differ (``name``, ``pattern``, ``loop`` ...)."""
    reordered: bool = False
    """The steps both hold come in another order."""

    @property
    def empty(self) -> bool:
        """True when the edit changes nothing."""
        return not (self.added or self.removed or self.changed or self.settings or self.reordered)


@dataclass(frozen=True, slots=True)
class Edited:
    """A workflow after an edit, and what the edit changed (`WorkflowService.update`)."""

    workflow: Workflow
    changes: DefinitionChanges
    project_changed: bool = False


def _data(definition: WorkflowDefinition) -> dict[str, Any]:
    """The definition as it is stored (what a person wrote, defaults filled in)."""
    return definition.model_dump(mode="json", exclude_none=True)


def _differing(old: dict[str, Any], new: dict[str, Any], order: list[str]) -> tuple[str, ...]:
    keys = order + sorted((old.keys() | new.keys()) - set(order))
    return tuple(key for key in keys if old.get(key) != new.get(key))


def changes(old: WorkflowDefinition, new: WorkflowDefinition) -> DefinitionChanges:
    """What editing ``old`` into ``new`` changes (steps matched by id)."""
    before, after = _data(old), _data(new)
    old_steps = {s["id"]: s for s in before.pop("steps")}
    new_steps = {s["id"]: s for s in after.pop("steps")}
    step_fields = list(type(new.steps[0]).model_fields)
    changed = tuple(
        StepChange(key, fields)
        for key, step in new_steps.items()
        if key in old_steps and (fields := _differing(old_steps[key], step, step_fields))
    )
    kept_old = [key for key in old_steps if key in new_steps]
    kept_new = [key for key in new_steps if key in old_steps]
    return DefinitionChanges(
        added=tuple(key for key in new_steps if key not in old_steps),
        removed=tuple(key for key in old_steps if key not in new_steps),
        changed=changed,
        settings=_differing(before, after, list(type(new).model_fields)),
        reordered=kept_old != kept_new,
    )


def describe(found: DefinitionChanges) -> list[str]:
    """One line per kind of change, for a person (empty when nothing changed)."""
    lines: list[str] = []
    if found.added:
        lines.append(f"added: {', '.join(found.added)}")
    if found.removed:
        lines.append(f"removed: {', '.join(found.removed)}")
    if found.changed:
        lines.append(
            "changed: " + "; ".join(f"{c.id} ({', '.join(c.fields)})" for c in found.changed)
        )
    if found.reordered:
        lines.append("the steps' order changed")
    if found.settings:
        lines.append(f"settings: {', '.join(found.settings)}")
    return lines
