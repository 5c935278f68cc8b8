"""Workspace discovery: which folders are projects, how deep the walk goes, what it skips, and
where the user level is (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scantools import scan_files

from stagent.scanner import Locations, Scanner
from stagent.scanner.walk import DEFAULT_MAX_DEPTH, PROJECT_MARKERS, SKIP_DIRS
from stagent.testing.scan_trees import write

SKILL = "---\nname: {name}\ndescription: Does {name}.\n---\n"


def _projects(root: Path, *, depth: int = DEFAULT_MAX_DEPTH, scan: str = "work") -> list[str]:
    scanner = Scanner(Locations.from_env({"HOME": str(root / "home")}))
    report = scanner.scan([root / scan], max_depth=depth)
    return sorted(str(Path(p.path).relative_to(root)) for p in report.projects)


@pytest.mark.parametrize("marker", PROJECT_MARKERS)
def test_each_marker_makes_a_project(tmp_path: Path, marker: str) -> None:
    target = tmp_path / "work" / "app" / marker
    if marker.startswith(".") and "." not in marker[1:]:
        write(target / "keep", "")  # a folder marker (.git, .claude, .codex, .agents)
    else:
        write(target, "{}\n" if marker.endswith(".json") else "# x\n")
    assert _projects(tmp_path) == ["work/app"]


def test_a_folder_without_markers_is_no_project(tmp_path: Path) -> None:
    write(tmp_path / "work" / "notes" / "README.md", "# notes\n")
    write(tmp_path / "work" / "notes" / "package.json", "{}\n")
    assert _projects(tmp_path) == []


@pytest.mark.parametrize("skipped", sorted(SKIP_DIRS))
def test_dependency_and_build_folders_are_never_walked(tmp_path: Path, skipped: str) -> None:
    write(tmp_path / "work" / "app" / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(tmp_path / "work" / "app" / skipped / "pkg" / ".git" / "HEAD", "ref: refs/heads/x\n")
    write(tmp_path / "work" / "app" / skipped / "CLAUDE.md", "# not ours\n")
    write(tmp_path / "work" / skipped / "lib" / "AGENTS.md", "# not ours\n")
    assert _projects(tmp_path) == ["work/app"]
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")})).scan([tmp_path / "work"])
    assert not [a for a in report.artifacts if f"/{skipped}/" in a.path]


def test_hidden_folders_are_never_walked(tmp_path: Path) -> None:
    write(tmp_path / "work" / ".cache" / "x" / ".git" / "HEAD", "ref: refs/heads/x\n")
    write(tmp_path / "work" / "app" / ".venv" / "lib" / "AGENTS.md", "# not ours\n")
    write(tmp_path / "work" / "app" / "AGENTS.md", "# app\n")
    assert _projects(tmp_path) == ["work/app"]


def test_the_depth_limit_counts_folders_below_the_scanned_one(tmp_path: Path) -> None:
    for depth in range(1, 6):
        folder = tmp_path / "work" / Path(*[f"d{i}" for i in range(depth)])
        write(folder / "AGENTS.md", f"# depth {depth}\n")
    # A project inside a project (no .git of its own) is nested, so give each one a .git
    for path in (tmp_path / "work").rglob("AGENTS.md"):
        write(path.parent / ".git" / "HEAD", "ref: refs/heads/main\n")
    found = {n: len(_projects(tmp_path, depth=n)) for n in range(0, 6)}
    assert found == {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
    assert DEFAULT_MAX_DEPTH == 4


def test_a_scanned_folder_that_is_a_project_is_found_at_depth_zero(tmp_path: Path) -> None:
    write(tmp_path / "work" / "CLAUDE.md", "# the work folder itself\n")
    assert _projects(tmp_path, depth=0) == ["work"]


def test_nested_markers_belong_to_the_enclosing_project(tmp_path: Path) -> None:
    app = tmp_path / "work" / "app"
    write(app / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(app / "packages" / "ui" / "CLAUDE.md", "# ui\n")
    write(
        app / "packages" / "api" / ".agents" / "skills" / "gen" / "SKILL.md",
        SKILL.format(name="gen"),
    )
    write(app / "packages" / "cli" / ".mcp.json", '{"mcpServers": {}}\n')  # not a nested marker
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    report = scanner.scan([tmp_path / "work"])
    assert [p.name for p in report.projects] == ["app"]
    names = {(a.category, a.name, a.project) for a in report.artifacts}
    assert ("instruction", "packages/ui/CLAUDE.md", str(app)) in names
    assert ("skill", "packages/api:gen", str(app)) in names


def test_overlapping_roots_find_each_project_once(tmp_path: Path) -> None:
    write(tmp_path / "work" / "app" / "AGENTS.md", "# app\n")
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    report = scanner.scan([tmp_path / "work", tmp_path / "work" / "app", tmp_path / "work"])
    assert [p.name for p in report.projects] == ["app"]
    assert len([a for a in report.artifacts if a.category == "instruction"]) == 1


def test_the_tools_own_folders_are_not_projects(tmp_path: Path) -> None:
    """Scanning the home folder: ~/.claude, ~/.codex and ~/.agents are the user level."""
    report = scan_files(
        tmp_path,
        {
            "home/.claude/CLAUDE.md": "# me\n",
            "home/.codex/AGENTS.md": "# me\n",
            "home/.agents/skills/a/SKILL.md": SKILL.format(name="a"),
            "home/code/app/AGENTS.md": "# app\n",
        },
        scan=("home",),
    )
    assert [p.name for p in report.projects] == ["app"]
    assert {a.name for a in report.artifacts if a.project is None} == {
        "~/CLAUDE.md",
        "~/AGENTS.md",
        "a",
    }


def test_claude_config_dir_moves_settings_skills_and_claude_json(tmp_path: Path) -> None:
    report = scan_files(
        tmp_path,
        {
            "cfg/settings.json": {"model": "opus"},
            "cfg/.claude.json": {"mcpServers": {"moved": {"command": "npx"}}},
            "cfg/agents/a.md": "---\nname: a\ndescription: A.\n---\n",
            "home/.claude/settings.json": {"model": "ignored"},
            "home/.claude.json": {"mcpServers": {"ignored": {"command": "npx"}}},
        },
        env={"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")},
    )
    claude = {(a.category, a.name) for a in report.artifacts if a.tool == "claude-code"}
    assert claude == {("settings", "settings.json"), ("mcp-server", "moved"), ("subagent", "a")}
    settings = next(a for a in report.artifacts if a.category == "settings")
    assert settings.metadata["model"] == "opus"
    assert report.locations["claude_dir"] == str(tmp_path / "cfg")


def test_a_list_in_claude_config_dir_uses_its_first_entry(tmp_path: Path) -> None:
    loc = Locations.from_env(
        {"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": f"{tmp_path}/a, {tmp_path}/b"}
    )
    assert loc.claude_dir == tmp_path / "a"
    assert loc.claude_json == tmp_path / "a" / ".claude.json"


def test_codex_home_moves_config_agents_md_prompts_and_legacy_skills(tmp_path: Path) -> None:
    report = scan_files(
        tmp_path,
        {
            "ch/config.toml": 'model = "gpt-6"\n',
            "ch/AGENTS.md": "# moved\n",
            "ch/prompts/p.md": "Prompt.\n",
            "home/.codex/config.toml": 'model = "ignored"\n',
            "home/.agents/skills/kept/SKILL.md": SKILL.format(name="kept"),
        },
        env={"CODEX_HOME": str(tmp_path / "ch")},
    )
    codex = {(a.category, a.name) for a in report.artifacts if a.tool == "codex"}
    assert codex == {
        ("config", "config.toml"),
        ("instruction", "~/AGENTS.md"),
        ("prompt", "p"),
        ("skill", "kept"),  # ~/.agents/skills follows HOME, not CODEX_HOME
    }
    config = next(a for a in report.artifacts if a.category == "config")
    assert config.metadata["model"] == "gpt-6"


def test_home_decides_the_user_level_when_nothing_else_is_set(tmp_path: Path) -> None:
    loc = Locations.from_env({"HOME": str(tmp_path / "me")})
    assert loc.as_dict()["claude_dir"] == str(tmp_path / "me" / ".claude")
    assert loc.as_dict()["claude_json"] == str(tmp_path / "me" / ".claude.json")
    assert loc.as_dict()["codex_home"] == str(tmp_path / "me" / ".codex")
    assert loc.as_dict()["agents_skills"] == str(tmp_path / "me" / ".agents" / "skills")


def test_a_file_in_place_of_a_folder_is_refused(tmp_path: Path) -> None:
    from stagent.domain.errors import ValidationError

    write(tmp_path / "file.txt", "x\n")
    with pytest.raises(ValidationError, match="file.txt is not a folder"):
        Scanner(Locations.from_env({"HOME": str(tmp_path)})).scan([tmp_path / "file.txt"])
