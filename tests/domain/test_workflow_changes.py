"""What an edit of a workflow definition changes, as ``stagent workflow edit`` and the API's
``PUT`` report it: steps added, removed and changed (with their fields), order, settings."""

from __future__ import annotations

from typing import Any

from stagent.domain.workflow_changes import DefinitionChanges, StepChange, changes, describe
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflows import WorkflowDefinition


def definition(steps: list[dict[str, Any]], **settings: Any) -> WorkflowDefinition:
    return parse_definition({"name": "flow", "pattern": "sequence", **settings, "steps": steps})


def s(key: str, prompt: str = "go", **extra: Any) -> dict[str, Any]:
    return {"id": key, "name": key.title(), "prompt": prompt, **extra}


def test_the_same_definition_changes_nothing() -> None:
    one = definition([s("a"), s("b")])
    found = changes(one, definition([s("a"), s("b")]))
    assert found == DefinitionChanges() and found.empty
    assert describe(found) == []


def test_steps_added_removed_and_changed_are_named_with_their_fields() -> None:
    old = definition([s("review"), s("fix"), s("lint")])
    new = definition(
        [
            s("review", "Review the diff", runtime="claude"),
            s("fix", requires_approval=True),
            s("test"),
            s("ship"),
        ]
    )
    found = changes(old, new)
    assert found.added == ("test", "ship")
    assert found.removed == ("lint",)
    assert found.changed == (
        StepChange("review", ("prompt", "runtime")),
        StepChange("fix", ("requires_approval",)),
    )
    assert not found.reordered and found.settings == ()
    assert describe(found) == [
        "added: test, ship",
        "removed: lint",
        "changed: review (prompt, runtime); fix (requires_approval)",
    ]


def test_a_nested_field_is_named_by_its_top_field_and_a_default_written_out_is_no_change() -> None:
    old = definition([s("a", retry={"attempts": 2}), s("b")])
    new = definition([s("a", retry={"attempts": 3}), s("b", requires_approval=False)])
    assert changes(old, new).changed == (StepChange("a", ("retry",)),)


def test_order_and_settings_outside_the_steps() -> None:
    old = definition([s("a"), s("b")])
    new = parse_definition(
        {
            "name": "renamed",
            "pattern": "parallel",
            "parallel": {"max_concurrency": 2},
            "steps": [s("b"), s("a"), s("join", depends_on=["a", "b"])],
        }
    )
    found = changes(old, new)
    assert found.reordered
    assert found.settings == ("name", "pattern", "parallel")
    assert found.added == ("join",)
    assert describe(found)[-2:] == ["the steps' order changed", "settings: name, pattern, parallel"]
