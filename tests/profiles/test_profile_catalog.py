"""Scopes and overrides, and what a profile puts into a run's options."""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_files import SPEC, write_profile

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.profiles.catalog import ProfileCatalog, ScopeDirs
from stagent.profiles.loader import load_profile
from stagent.profiles.options import apply_profile, run_options


def _dirs(tmp_path: Path, builtin: Path | None = None) -> ScopeDirs:
    return ScopeDirs(
        user=tmp_path / "user", project=tmp_path / "project", builtin=builtin or tmp_path / "b"
    )


def test_user_beats_project_beats_builtin_by_id(tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    write_profile(dirs.builtin, "rev", spec=SPEC.replace("Test Reviewer", "Built-in"))
    write_profile(dirs.builtin, "other")
    unapproving = SPEC.replace("canUseToolPolicy:\n  autoApprove: [Read, Grep]\n", "")
    write_profile(tmp_path / "project", "rev", spec=unapproving.replace("Test Reviewer", "Project"))
    catalog = ProfileCatalog.load(dirs)
    assert catalog.get("rev").spec.name == "Project"
    assert catalog.get("rev").scope == "project"

    write_profile(tmp_path / "user", "rev", spec=SPEC.replace("Test Reviewer", "Mine"))
    catalog = ProfileCatalog.load(dirs)
    assert catalog.get("rev").spec.name == "Mine"
    assert catalog.shadowed["rev"] == ["builtin", "project"]
    assert catalog.get("other").scope == "builtin"


def test_a_broken_user_profile_is_a_problem_not_an_outage(tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    write_profile(dirs.builtin, "good")
    write_profile(dirs.user, "bad", spec=SPEC + "hooks: [x]\n")
    catalog = ProfileCatalog.load(dirs)
    assert [p.id for p in catalog.all()] == ["good"]
    assert [p.id for p in catalog.problems] == ["bad"]
    with pytest.raises(ValidationError, match=r"profile.yaml:13: hooks"):
        catalog.get("bad")
    with pytest.raises(NotFoundError):
        catalog.get("missing")


def test_a_plain_claude_code_skill_without_profile_yaml_is_not_a_profile(tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    skill = dirs.project / "deploy"  # type: ignore[operator]
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: deploy\ndescription: d\n---\nDeploy.\n")
    assert ProfileCatalog.load(dirs).all() == []


def test_search_filters_by_text_domain_and_runtime(tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    write_profile(dirs.builtin, "rev")
    personal = SPEC.replace("domain: work", "domain: personal").replace(
        "[review, code]", "[travel]"
    )
    write_profile(dirs.builtin, "trip", spec=personal.replace("[claude, codex]", "[claude]"))
    catalog = ProfileCatalog.load(dirs)
    assert [p.id for p in catalog.search("travel")] == ["trip"]
    assert [p.id for p in catalog.search(domain="work")] == ["rev"]
    assert [p.id for p in catalog.search(runtime="codex")] == ["rev"]


def test_the_tool_list_becomes_a_deny_policy_on_every_runtime(tmp_path: Path) -> None:
    profile = load_profile(write_profile(tmp_path), "user")

    claude = run_options(profile, "claude")
    assert claude["tools"] == ["Read", "Grep", "Glob", "AskUserQuestion"]
    assert claude["tool_policy"]["auto_approve"] == ["Read", "Grep"]
    assert {"Write", "Edit", "Bash", "WebFetch"} <= set(claude["tool_policy"]["auto_deny"])
    assert "Read" not in claude["tool_policy"]["auto_deny"]
    assert claude["instructions"].startswith("# Reviewer")

    codex = run_options(profile, "codex")
    assert codex["tool_policy"] == claude["tool_policy"]
    assert codex["sandbox"] == "read-only"
    assert "tools" not in codex

    simulated = run_options(profile, "scripted")
    assert set(simulated) == {"tool_policy"}

    with pytest.raises(ValidationError, match="does not support the anthropic runtime"):
        run_options(profile, "anthropic")


def test_applying_a_profile_again_clears_what_the_last_one_set(tmp_path: Path) -> None:
    first = load_profile(write_profile(tmp_path / "a"), "user")
    spec = SPEC.replace("allowedTools: [Read, Grep, Glob]\n", "").replace(
        "canUseToolPolicy:\n  autoApprove: [Read, Grep]\n", ""
    )
    second = load_profile(write_profile(tmp_path / "b", spec=spec), "user")
    config = apply_profile({"scenario": {"steps": []}}, first, "claude")
    assert "tools" in config and config["_profile"]["id"] == "test-reviewer"
    config = apply_profile(config, second, "claude")
    assert "tools" not in config and "tool_policy" not in config
    assert config["scenario"] == {"steps": []}


def test_a_project_profile_cannot_approve_tools_or_start_mcp_servers(tmp_path: Path) -> None:
    dirs = _dirs(tmp_path)
    write_profile(dirs.builtin, "general")
    write_profile(dirs.project, "general")  # type: ignore[arg-type]  # approves Read, Grep
    spec = SPEC.replace("canUseToolPolicy:\n  autoApprove: [Read, Grep]\n", "").replace(
        "[claude, codex]", "[claude]"
    )
    write_profile(dirs.project, "mcp", spec=spec + "mcpServers:\n  x: {command: evil}\n")  # type: ignore[arg-type]
    catalog = ProfileCatalog.load(dirs)
    assert catalog.get("general").scope == "builtin", "the repository's copy did not override it"
    with pytest.raises(ValidationError, match=r"profile.yaml:8: canUseToolPolicy: approves tool"):
        load_profile(dirs.project / "general", "project")  # type: ignore[operator]
    assert sorted(p.id for p in catalog.problems) == ["general", "mcp"]
    with pytest.raises(ValidationError, match="mcpServers: starts MCP servers"):
        catalog.get("mcp")
    assert load_profile(dirs.project / "general", "user").scope == "user"  # type: ignore[operator]
