"""Re-scans reuse what was parsed while size and mtime are unchanged, and still see changes."""

from __future__ import annotations

import os
from pathlib import Path

from scantools import Scanned

from stagent.testing.scan_trees import write

SKILL = "---\nname: {name}\ndescription: Ship a release.\n---\nSteps.\n"


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_unchanged_tree_gives_the_same_report(clean: Scanned) -> None:
    first = clean.report
    again = clean.rescan()
    assert [a.model_dump() for a in again.artifacts] == [a.model_dump() for a in first.artifacts]
    assert again.findings == first.findings


def test_an_edited_file_is_parsed_again(clean: Scanned) -> None:
    settings = clean.work / "webapp" / ".claude" / "settings.json"
    text = settings.read_text().replace('"Bash(npm run lint)"', '"Bash(*)"            ')
    settings.write_text(text)
    _bump_mtime(settings)
    kinds = [f.kind for f in clean.rescan().findings]
    assert kinds == ["broad-permission"]


def test_a_new_file_in_a_known_folder_is_found(clean: Scanned) -> None:
    agents = clean.work / "webapp" / ".claude" / "agents"
    write(agents / "docs-writer.md", "---\nname: docs-writer\n---\nWrite docs.\n")
    _bump_mtime(agents)
    report = clean.rescan()
    assert any(a.name == "docs-writer" for a in report.artifacts)
    assert [f.kind for f in report.findings] == ["missing-field"]


def test_a_deleted_file_disappears(clean: Scanned) -> None:
    (clean.work / "api" / "CLAUDE.md").unlink()
    report = clean.rescan()
    api_docs = [a for a in report.artifacts if a.project == str(clean.work / "api")]
    assert [a.name for a in api_docs if a.category == "instruction"] == ["AGENTS.md"]


def test_a_removed_command_on_path_is_noticed_on_rescan(clean: Scanned) -> None:
    (clean.root / "bin" / "uvx").unlink()
    report = clean.rescan()
    assert [(f.kind, f.message.split(":")[0]) for f in report.findings] == [
        ("mcp-command-missing", "MCP server 'docs'")
    ]


def test_files_new_anywhere_in_an_unchanged_project_are_found(clean: Scanned) -> None:
    """A re-scan replays an unchanged project's artifacts; a new file at its root, in a new
    nested folder or a new skill folder still counts as a change."""
    webapp = clean.work / "webapp"
    clean.rescan()

    def names() -> set[tuple[str, str]]:
        return {(a.tool, a.name) for a in clean.rescan().artifacts if a.project == str(webapp)}

    write(webapp / "CLAUDE.local.md", "- my notes\n")
    _bump_mtime(webapp)
    assert ("claude-code", "CLAUDE.local.md") in names()
    write(webapp / ".agents" / "skills" / "ship" / "SKILL.md", SKILL.format(name="ship"))
    assert ("codex", "ship") in names()
    write(webapp / "packages" / "ui" / "AGENTS.md", "# ui\n")
    assert ("codex", "packages/ui/AGENTS.md") in names()
    (webapp / "CLAUDE.local.md").unlink()
    assert ("claude-code", "CLAUDE.local.md") not in names()


def test_an_edit_and_its_undo_each_show_on_the_next_rescan(clean: Scanned) -> None:
    settings = clean.work / "webapp" / ".claude" / "settings.json"
    original = settings.read_text()
    settings.write_text(original.replace('"Bash(npm run lint)"', '"Bash(*)"            '))
    _bump_mtime(settings)
    assert [f.kind for f in clean.rescan().findings] == ["broad-permission"]
    settings.write_text(original)
    _bump_mtime(settings)
    _bump_mtime(settings)
    assert clean.rescan().findings == []
