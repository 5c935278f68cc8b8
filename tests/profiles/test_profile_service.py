"""`ProfileService` as a person uses it: per-runtime overrides reach each runtime's run options,
install/export/import round trips keep a profile intact and in the right scope, and the user
profiles the editor saves are the ones tasks run with."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_files import SKILL, SPEC, write_profile

from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.engine.services import TaskDraft
from stagent.profiles.service import ProfileService
from stagent.workspace import Workspace

OVERRIDES = (
    SPEC
    + """runtimeOverrides:
  claude:
    model: claude-sonnet-4-5
    maxTurns: 7
    instructions: Review as a Claude reviewer would.
  codex:
    model: gpt-5-codex
"""
)


def test_per_runtime_overrides_reach_each_runtimes_options(tmp_path: Path) -> None:
    write_profile(tmp_path / "home" / "profiles", spec=OVERRIDES)
    service = ProfileService(tmp_path / "home", project_dir=tmp_path)
    profile = service.get("test-reviewer")
    claude, codex = profile.options("claude"), profile.options("codex")
    assert (claude.model, claude.max_turns) == ("claude-sonnet-4-5", 7)
    assert claude.instructions == "Review as a Claude reviewer would."
    assert codex.model == "gpt-5-codex"
    assert codex.instructions is not None and codex.instructions.startswith("# Reviewer")
    _, on_claude, _ = service.resolve("test-reviewer", "claude", "t", "", {})
    _, on_codex, _ = service.resolve("test-reviewer", "codex", "t", "", {})
    assert on_claude["model"] == "claude-sonnet-4-5" and on_claude["max_turns"] == 7
    assert on_codex["model"] == "gpt-5-codex"
    assert on_codex["sandbox"] == "read-only"  # Read, Grep, Glob: no tool that writes
    assert "max_turns" not in on_codex  # a Claude-only limit is not sent to Codex


def test_a_profiles_runtime_override_shapes_a_real_run(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-used")  # the runtime counts as ready
    write_profile(workspace.settings.home / "profiles", spec=OVERRIDES)
    task = workspace.tasks.create(
        TaskDraft(title="review", runtime="claude", profile="test-reviewer")
    )
    workspace.tasks.run(task.id)
    options = workspace.tasks.runs(task.id)[-1].options
    assert options.model == "claude-sonnet-4-5"
    assert options.limits.max_turns == 7
    assert options.instructions == "Review as a Claude reviewer would."
    workspace.tasks.cancel(task.id)


def test_export_edit_import_overrides_the_builtin_and_delete_restores_it(tmp_path: Path) -> None:
    service = ProfileService(tmp_path / "home", project_dir=tmp_path)
    builtin = service.get("editor")
    exported = service.export("editor", tmp_path / "out")
    assert (exported / "SKILL.md").read_text() == (Path(builtin.path) / "SKILL.md").read_text()
    with pytest.raises(ConflictError, match="already exists"):
        service.export("editor", tmp_path / "out")
    spec = exported / "profile.yaml"
    spec.write_text(spec.read_text().replace(f"version: {builtin.spec.version}", "version: 9.9.9"))
    imported = service.import_(exported)
    assert (imported.scope, imported.spec.version) == ("user", "9.9.9")
    assert imported.instructions == builtin.instructions
    assert service.catalog().shadowed["editor"] == ["builtin"]
    with pytest.raises(ConflictError):
        service.import_(exported)
    assert service.import_(exported, force=True).spec.version == "9.9.9"
    service.delete_user("editor")
    assert service.get("editor").scope == "builtin"
    with pytest.raises(NotFoundError, match="no user profile 'editor'"):
        service.delete_user("editor")


def test_an_installed_skill_is_found_again_as_a_project_profile(tmp_path: Path) -> None:
    service = ProfileService(tmp_path / "home", project_dir=tmp_path)
    skills = tmp_path / ".claude" / "skills"
    installed = service.install("meal-planner", target=skills)
    assert installed == skills / "meal-planner"
    assert (installed / "SKILL.md").read_text().startswith("---\nname: meal-planner")
    again = ProfileService(tmp_path / "home", project_dir=tmp_path).get("meal-planner")
    assert again.scope == "project"
    assert again.instructions == service.get("meal-planner").instructions
    assert again.spec.allowed_tools == ()
    # A profile that approves tool calls is not trusted from a repository: the copy stays a
    # Claude Code skill, but Stagent keeps using the built-in and says why.
    service.install("researcher", target=skills)
    catalog = ProfileService(tmp_path / "home", project_dir=tmp_path).catalog()
    assert catalog.get("researcher").scope == "builtin"
    (problem,) = [p for p in catalog.problems if p.id == "researcher"]
    assert "a project profile may not do" in problem.error.message


def test_the_editor_saves_a_user_profile_that_tasks_then_use(workspace: Workspace) -> None:
    service = workspace.profiles
    spec = SPEC.replace("{id}", "house-style")
    saved = service.save_user(spec, SKILL.replace("{id}", "house-style"))
    assert saved.scope == "user" and saved.spec.name == "Test Reviewer"
    assert service.source_text("house-style") == (spec, SKILL.replace("{id}", "house-style"))
    with pytest.raises(ConflictError, match="already a user profile"):
        service.save_user(spec, SKILL.replace("{id}", "house-style"))
    with pytest.raises(ValidationError, match="differs from the profile being edited"):
        service.save_user(spec, SKILL.replace("{id}", "house-style"), original_id="other")
    task = workspace.tasks.create(TaskDraft(title="review", profile="house-style"))
    workspace.tasks.run(task.id)
    policy = workspace.tasks.runs(task.id)[-1].options.tool_policy
    assert policy is not None and "Write" in policy.auto_deny and "Read" in policy.auto_approve
    workspace.tasks.cancel(task.id)
    service.delete_user("house-style")
    with pytest.raises(NotFoundError, match="no profile 'house-style'"):
        workspace.tasks.create(TaskDraft(title="again", profile="house-style"))
