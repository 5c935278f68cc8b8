"""Saved permission rules on SQLite and PostgreSQL: CRUD, scopes, presets, settings files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgres"])


@pytest.fixture
def ws(request: pytest.FixtureRequest, db: str) -> Workspace:
    """The SQLite or the PostgreSQL workspace."""
    name = "workspace" if db == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def test_rules_are_saved_listed_by_scope_and_removed(ws: Workspace, tmp_path: Path) -> None:
    project = ws.projects.create("alpha", directory=str(tmp_path))
    task = ws.tasks.create(TaskDraft(title="t", project="alpha"))
    glob = ws.rules.add("Bash(npm run test *)")
    by_name = ws.rules.add("Read(./src/**)", "allow", scope="project", ref="alpha")
    deny = ws.rules.add("Bash(rm *)", "deny", scope="task", ref=task.id)

    assert by_name.scope_ref == project.id  # a name is stored as the id
    assert [r.id for r in ws.rules.list()] == [deny.id, by_name.id, glob.id]  # narrow first
    assert ws.rules.list(scope="project", ref=project.id) == [by_name]
    assert ws.rules.list(scope="global") == [glob]
    assert ws.rules.get(deny.id).effect == "deny"
    assert {r.id for r in ws.rules.applicable(task.id, project.id)} == {
        glob.id,
        by_name.id,
        deny.id,
    }
    assert ws.rules.applicable("tsk_other", None) == [glob]

    assert ws.rules.remove(deny.id) == deny
    with pytest.raises(NotFoundError):
        ws.rules.remove(deny.id)
    assert [r.id for r in ws.rules.list()] == [by_name.id, glob.id]


def test_the_same_rule_may_come_from_several_sources(ws: Workspace) -> None:
    mine = ws.rules.add("Read")
    assert ws.rules.add("Read") == mine  # the same source again: a no-op
    ws.rules.apply_preset("read-only")
    reads = [r for r in ws.rules.list() if r.text == "Read"]
    assert sorted(r.source for r in reads) == ["preset:read-only", "user"]

    assert ws.rules.remove_preset("read-only") > 0
    assert [r.source for r in ws.rules.list()] == ["user"]


def test_presets_only_touch_their_own_rules(ws: Workspace) -> None:
    ws.rules.add("Bash(make *)")
    added = ws.rules.apply_preset("git-safe")
    assert ws.rules.apply_preset("git-safe") == []  # idempotent
    ws.rules.apply_preset("read-only")
    states = {p.name: p.active for p in ws.rules.presets()}
    assert states == {"read-only": True, "git-safe": True, "full-auto": False}
    assert ws.rules.tier() == "Collaborator"

    assert ws.rules.remove_preset("git-safe") == len(added)
    assert {p.name: p.active for p in ws.rules.presets()}["read-only"] is True
    assert "Bash(make *)" in [r.text for r in ws.rules.list()]
    assert ws.rules.tier() == "Observer"
    with pytest.raises(ValidationError, match="Unknown preset"):
        ws.rules.apply_preset("yolo")


@pytest.mark.parametrize(
    ("text", "effect", "reason"),
    [
        ("Bash(npm run", "allow", "Bash"),
        ("*", "allow", "only honoured in deny and ask rules"),
        ("AskUserQuestion", "allow", "always goes to a person"),
        ("Read", "maybe", "not one of allow, deny, ask"),
    ],
)
def test_a_bad_rule_is_refused_with_the_reason(
    ws: Workspace, text: str, effect: str, reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        ws.rules.add(text, effect)
    assert ws.rules.list() == []


def test_scope_references_are_checked(ws: Workspace) -> None:
    with pytest.raises(ValidationError, match="needs the project"):
        ws.rules.add("Read", scope="project")
    with pytest.raises(NotFoundError):
        ws.rules.add("Read", scope="task", ref="tsk_nope")
    with pytest.raises(ValidationError, match="takes no task or project"):
        ws.rules.add("Read", scope="global", ref="x")
    with pytest.raises(ValidationError, match="scope"):
        ws.rules.add("Read", scope="planet")


def test_import_and_export_claude_settings(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "in" / ".claude" / "settings.json"
    source.parent.mkdir(parents=True)
    source.write_text(
        json.dumps(
            {
                "model": "keep-me",
                "permissions": {
                    "allow": ["Bash(npm run test:*)", "Read(./src/**)", "Bash(npm run"],
                    "deny": ["Read(./.env)"],
                },
            }
        )
    )
    first = ws.rules.import_file(source)
    assert [r.text for r in first.added] == [
        "Read(./.env)",
        "Bash(npm run test:*)",
        "Read(./src/**)",
    ]
    assert [(i.text, i.note) for i in first.report.refused][0][0] == "Bash(npm run"
    again = ws.rules.import_file(source)
    assert again.added == () and len(again.already) == 3
    assert all(r.source == f"import:{source}" for r in ws.rules.list())

    target = tmp_path / "out" / "settings.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"model": "keep-me", "permissions": {"allow": ["Glob"]}}))
    result = ws.rules.export_file(target)
    document = json.loads(target.read_text())
    assert document["model"] == "keep-me"
    assert document["permissions"]["allow"] == ["Glob", "Bash(npm run test:*)", "Read(./src/**)"]
    assert document["permissions"]["deny"] == ["Read(./.env)"]
    assert len(result.exported) == 3

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValidationError, match="line 1"):
        ws.rules.import_file(broken)
    # ~name of a user this machine does not have: refused naming the path, not a RuntimeError
    nobody = "~stagent-no-such-user/settings.json"
    with pytest.raises(ValidationError, match=f"path: {nobody} cannot be read"):
        ws.rules.import_file(nobody)
    with pytest.raises(ValidationError, match=f"path: {nobody} cannot be written"):
        ws.rules.export_file(nobody)
