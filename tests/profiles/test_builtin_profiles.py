"""Every built-in profile loads, validates, and has a real job description and a fitting policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagent.profiles.catalog import BUILTIN_DIR, ProfileCatalog, ScopeDirs
from stagent.profiles.loader import load_profile
from stagent.profiles.models import Profile
from stagent.profiles.options import run_options
from stagent.profiles.support import WRITE_TOOLS

BUILTIN_IDS = sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "profile.yaml").is_file())
READ_ONLY_ROLES = {
    "researcher", "code-reviewer", "security-reviewer", "architect", "sql-expert",
    "accessibility-auditor", "infrastructure-reviewer", "code-explainer", "competitive-analyst",
    "contract-reviewer", "travel-planner", "wealth-manager", "shopping-assistant",
}  # fmt: skip


def test_the_catalog_has_at_least_52_profiles_across_work_and_personal() -> None:
    catalog = ProfileCatalog.load(ScopeDirs(user=Path("/nonexistent-user-scope")))
    assert len(catalog.all()) >= 52
    assert catalog.problems == []
    domains = [p.spec.domain for p in catalog.all()]
    assert domains.count("personal") >= 10
    assert sum("engineering" in p.spec.tags for p in catalog.all()) >= 20
    assert sum("knowledge" in p.spec.tags for p in catalog.all()) >= 12
    for expected in (
        "general", "code-reviewer", "security-reviewer", "test-writer", "debugger", "refactorer",
        "architect", "devops-engineer", "data-analyst", "sql-expert", "api-designer",
        "release-manager", "incident-responder", "researcher", "document-writer",
        "technical-writer", "editor", "translator", "project-manager", "product-manager",
        "meeting-summarizer", "travel-planner", "wealth-manager", "learning-coach",
        "health-coach", "shopping-assistant",
    ):  # fmt: skip
        assert expected in catalog.profiles


@pytest.fixture(params=BUILTIN_IDS)
def profile(request: pytest.FixtureRequest) -> Profile:
    return load_profile(BUILTIN_DIR / request.param, "builtin")


def test_each_builtin_has_a_page_of_instructions_and_a_smoke_test(profile: Profile) -> None:
    words = len(profile.instructions.split())
    assert words >= 200, f"{profile.id}: {words} words of instructions"
    assert profile.instructions.count("\n## ") >= 2, "sections: how to work, what to deliver"
    assert "Boundaries" in profile.instructions
    assert profile.tests, f"{profile.id} has no smoke test"
    assert profile.skill.name == profile.id
    assert len(profile.spec.tags) >= 4


def test_each_builtin_resolves_on_every_runtime_it_claims(profile: Profile) -> None:
    for runtime in profile.runtimes:
        options = run_options(profile, runtime)
        assert options["instructions"] == profile.instructions
        tools = profile.options(runtime).allowed_tools
        denied = set(options.get("tool_policy", {}).get("auto_deny", []))
        if tools is not None:
            assert not (denied & set(tools)), "a tool the profile has is not denied"
            assert not {"Write", "Edit", "Bash"} - set(tools) - denied


@pytest.mark.parametrize("profile_id", sorted(READ_ONLY_ROLES))
def test_read_only_roles_cannot_write_on_any_runtime(profile_id: str) -> None:
    profile = load_profile(BUILTIN_DIR / profile_id, "builtin")
    for runtime in profile.runtimes:
        options = run_options(profile, runtime)
        assert set(options["tool_policy"]["auto_deny"]) >= WRITE_TOOLS
        if runtime == "codex":
            assert options["sandbox"] == "read-only"
        if runtime == "claude":
            assert not WRITE_TOOLS & set(options["tools"])


def test_reviewers_read_and_grep_without_asking() -> None:
    reviewer = load_profile(BUILTIN_DIR / "code-reviewer", "builtin")
    approve = reviewer.spec.can_use_tool_policy.auto_approve
    assert {"Read", "Grep", "Glob"} <= set(approve)
    assert not WRITE_TOOLS & set(reviewer.spec.allowed_tools or ())
    researcher = load_profile(BUILTIN_DIR / "researcher", "builtin")
    assert "Bash" not in (researcher.spec.allowed_tools or ())
