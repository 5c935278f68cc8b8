"""Importing rules from Claude Code settings files and exporting them back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.permissions import PermissionRule
from stagent.governance.claude_settings import (
    export_settings_file,
    export_settings_text,
    import_settings_file,
    import_settings_text,
    settings_anchor,
)

HOME = "/home/u"
ROOT = "/work/proj"
PROJECT_FILE = f"{ROOT}/.claude/settings.json"
USER_FILE = f"{HOME}/.claude/settings.json"

DOCUMENT = {
    "model": "opus",
    "permissions": {
        "allow": ["Bash(npm run test:*)", "Read(./src/**)", "Write(./src/**)", "mcp__github"],
        "ask": ["Bash(git push *)"],
        "deny": ["Read(./.env)", "*", 42, "Read(./.env)"],
        "defaultMode": "acceptEdits",
    },
    "hooks": {"PreToolUse": []},
}


def test_import_reports_each_rule_imported_or_refused() -> None:
    report = import_settings_text(
        json.dumps(DOCUMENT),
        path=PROJECT_FILE,
        home=HOME,
        project_root=ROOT,
        scope="project",
        scope_ref="p1",
    )
    assert report.error is None
    imported = {(r.effect, r.text) for r in report.rules}
    assert imported == {
        ("deny", "Read(./.env)"),
        ("deny", "*"),
        ("ask", "Bash(git push *)"),
        ("allow", "Bash(npm run test:*)"),
        ("allow", "Read(./src/**)"),
        ("allow", "mcp__github"),
    }
    assert all(r.source == f"import:{PROJECT_FILE}" for r in report.rules)
    assert all(r.scope == "project" and r.scope_ref == "p1" for r in report.rules)
    refused = {(item.text, item.note) for item in report.refused}
    assert ("42", "not a string") in refused
    assert ("Read(./.env)", "duplicate of an earlier entry") in refused
    write = next(item for item in report.refused if item.text == "Write(./src/**)")
    assert write.note is not None
    assert "use `Edit(./src/**)`" in write.note


def test_a_json_syntax_error_names_the_file_and_line() -> None:
    text = '{\n  "permissions": {\n    "allow": ["Read",]\n  }\n}\n'
    report = import_settings_text(text, path=PROJECT_FILE, home=HOME)
    assert report.rules == []
    assert report.error is not None
    assert report.error.startswith(f"{PROJECT_FILE}: line 3 column")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[1, 2]", "expected a JSON object"),
        ('{"permissions": ["Read"]}', "'permissions' must be an object"),
    ],
)
def test_a_badly_shaped_file_is_reported_not_raised(text: str, fragment: str) -> None:
    report = import_settings_text(text, path=PROJECT_FILE, home=HOME)
    assert report.error is not None
    assert fragment in report.error


def test_a_list_that_is_not_a_list_is_a_warning() -> None:
    report = import_settings_text(
        '{"permissions": {"allow": "Read", "deny": ["Bash(rm *)"]}}', path=PROJECT_FILE, home=HOME
    )
    assert [r.text for r in report.rules] == ["Bash(rm *)"]
    assert report.warnings == (f"{PROJECT_FILE}: permissions.allow is not a list; skipped",)


def test_a_file_without_permissions_imports_nothing() -> None:
    report = import_settings_text('{"model": "opus"}', path=PROJECT_FILE, home=HOME)
    assert report.error is None
    assert report.rules == []
    assert report.warnings


def test_slash_rules_from_the_user_file_are_rewritten_to_their_real_anchor() -> None:
    document = {"permissions": {"deny": ["Read(/secrets/**)", "Read(./.env)"]}}
    report = import_settings_text(
        json.dumps(document), path=USER_FILE, home=HOME, project_root=ROOT
    )
    assert [r.text for r in report.rules] == ["Read(~/.claude/secrets/**)", "Read(./.env)"]
    assert report.items[0].note is not None
    assert "relative to /home/u/.claude" in report.items[0].note


def test_slash_rules_from_the_project_file_stay_project_relative() -> None:
    report = import_settings_text(
        '{"permissions": {"allow": ["Edit(/src/**)"]}}',
        path=PROJECT_FILE,
        home=HOME,
        project_root=ROOT,
    )
    assert [r.text for r in report.rules] == ["Edit(/src/**)"]
    assert report.items[0].note is None


def test_slash_rules_from_a_file_outside_home_become_absolute() -> None:
    report = import_settings_text(
        '{"permissions": {"allow": ["Edit(/src/**)"]}}',
        path="/other/repo/.claude/settings.local.json",
        home=HOME,
        project_root=ROOT,
    )
    assert [r.text for r in report.rules] == ["Edit(//other/repo/src/**)"]


@pytest.mark.parametrize(
    ("path", "anchor"),
    [
        (PROJECT_FILE, ROOT),
        (f"{ROOT}/.claude/settings.local.json", ROOT),
        (USER_FILE, f"{HOME}/.claude"),
        ("/etc/claude-code/managed-settings.json", "/etc/claude-code"),
    ],
)
def test_settings_anchor(path: str, anchor: str) -> None:
    assert settings_anchor(path, HOME) == anchor


def test_import_file_reads_and_reports_unreadable_files(tmp_path: Path) -> None:
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"permissions": {"allow": ["Bash(ls *)"]}}')
    report = import_settings_file(settings, home=tmp_path / "home", project_root=tmp_path)
    assert [r.text for r in report.rules] == ["Bash(ls *)"]
    missing = import_settings_file(tmp_path / "nope.json", home=tmp_path)
    assert missing.error is not None
    assert "nope.json: cannot be read" in missing.error


def rules(*specs: tuple[str, str]) -> list[PermissionRule]:
    return [PermissionRule.from_text(text, effect) for effect, text in specs]  # type: ignore[arg-type]


def test_export_into_a_new_document() -> None:
    result = export_settings_text(
        rules(("allow", "Bash(ls *)"), ("deny", "Read(./.env)"), ("ask", "Bash(git push *)"))
    )
    assert json.loads(result.text) == {
        "permissions": {
            "allow": ["Bash(ls *)"],
            "ask": ["Bash(git push *)"],
            "deny": ["Read(./.env)"],
        }
    }


def test_export_merges_and_keeps_other_keys() -> None:
    existing = json.dumps(
        {
            "model": "opus",
            "hooks": {"PreToolUse": [{"matcher": "Bash"}]},
            "permissions": {"allow": ["Read"], "defaultMode": "plan", "deny": []},
        }
    )
    result = export_settings_text(rules(("allow", "Read"), ("allow", "Edit")), existing)
    document = json.loads(result.text)
    assert document["model"] == "opus"
    assert document["hooks"] == {"PreToolUse": [{"matcher": "Bash"}]}
    assert document["permissions"]["defaultMode"] == "plan"
    assert document["permissions"]["allow"] == ["Read", "Edit"]
    assert document["permissions"]["deny"] == []
    replaced = json.loads(
        export_settings_text(rules(("allow", "Edit")), existing, replace=True).text
    )
    assert replaced["permissions"]["allow"] == ["Edit"]


def test_export_skips_task_scoped_rules() -> None:
    task_rule = PermissionRule.from_text("Bash(make *)", scope="task", scope_ref="t1")
    result = export_settings_text([task_rule, *rules(("allow", "Read"))])
    assert json.loads(result.text)["permissions"]["allow"] == ["Read"]
    assert result.skipped[0][0] == task_rule
    assert "task-scoped" in result.skipped[0][1]


def test_export_rewrites_project_relative_rules_for_another_anchor() -> None:
    result = export_settings_text(
        rules(("deny", "Read(/secrets/**)")),
        project_root=ROOT,
        anchor_dir=f"{HOME}/.claude",
        home=HOME,
    )
    assert json.loads(result.text)["permissions"]["deny"] == ["Read(//work/proj/secrets/**)"]
    unknown_root = export_settings_text(rules(("deny", "Read(/x)")), anchor_dir=f"{HOME}/.claude")
    assert unknown_root.exported == ()
    assert "needs the project root" in unknown_root.skipped[0][1]


def test_export_refuses_to_overwrite_a_broken_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"permissions": {\n  "allow": [}\n')
    with pytest.raises(ValidationError, match=r"settings.json: line 2 column"):
        export_settings_file(rules(("allow", "Read")), settings, home=tmp_path)
    assert settings.read_text() == '{"permissions": {\n  "allow": [}\n'


def test_round_trip_through_a_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "proj" / ".claude" / "settings.local.json"
    original = rules(
        ("allow", "Bash(npm run test:*)"),
        ("allow", "Edit(/src/**/*.ts)"),
        ("allow", "WebFetch(domain:*.example.com)"),
        ("allow", "mcp__github__get_*"),
        ("ask", "Agent(model:opus)"),
        ("deny", "Read(./.env)"),
        ("deny", "mcp__*"),
    )
    export_settings_file(original, settings, project_root=tmp_path / "proj", home=tmp_path)
    report = import_settings_file(settings, home=tmp_path, project_root=tmp_path / "proj")
    assert report.error is None
    assert report.refused == []
    assert {(r.effect, r.text) for r in report.rules} == {(r.effect, r.text) for r in original}
    again = export_settings_file(report.rules, settings, project_root=tmp_path / "proj")
    assert json.loads(again.text) == json.loads(settings.read_text())
    assert sorted(p.name for p in settings.parent.iterdir()) == ["settings.local.json"]
