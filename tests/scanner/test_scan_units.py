"""Unit behaviour of the scanner's parts: secret shapes and redaction, hook script resolution,
shadowing precedence, the AGENTS.md byte budget, the score's cap, the page's views."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stagent.scanner import checks, secrets, views
from stagent.scanner.findings import KIND_CAP, KINDS, finding
from stagent.scanner.fscache import FsCache
from stagent.scanner.parse import front_matter
from stagent.scanner.report import Artifact, Health, ProjectInfo, ScanReport, ScanSummary
from stagent.scanner.score import health
from stagent.scanner.walk import git_branch
from stagent.testing.scan_trees import write

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def art(name: str, category: str = "skill", **kw: Any) -> Artifact:
    """A minimal artifact for the pure checks."""
    fields: dict[str, Any] = {
        "id": f"{category}-{name}-{kw.get('scope', 'project')}-{kw.get('path', name)}",
        "tool": "claude-code",
        "category": category,
        "scope": "project",
        "project": "/p",
        "name": name,
        "path": f"/p/{name}",
        "content_hash": "h",
        "size": 10,
        "modified_at": NOW,
    }
    fields.update(kw)
    return Artifact(**fields)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("sk-ant-api03-" + "a" * 30, "Anthropic API key"),
        ("sk-proj-" + "B" * 40, "OpenAI API key"),
        ("ghp_" + "c" * 36, "GitHub token"),
        ("github_pat_" + "D" * 40, "GitHub token"),
        ("glpat-" + "e" * 20, "GitLab token"),
        ("AKIA" + "F" * 16, "AWS access key id"),
        ("xoxb-1234567890-abcdef", "Slack token"),
        ("AIza" + "g" * 35, "Google API key"),
        ("sk_live_" + "h" * 24, "Stripe secret key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
    ],
)
def test_secret_shapes(value: str, kind: str) -> None:
    assert secrets.kind_of_value(value) == kind
    assert secrets.redact_text(f"before {value} after") == f"before {secrets.REDACTED} after"


@pytest.mark.parametrize(
    "value",
    ["task-runner", "ghp_short", "sk-not-long-enough", "AKIAshort", "just words", "${TOKEN}"],
)
def test_not_secrets(value: str) -> None:
    assert secrets.kind_of_value(value) is None
    assert secrets.redact_text(value) == value


def test_secret_by_name_needs_a_literal_of_some_length() -> None:
    assert secrets.secret_kind("DB_PASSWORD", "hunter2hunter2") == "literal value of DB_PASSWORD"
    assert secrets.secret_kind("DB_PASSWORD", "short") is None
    assert secrets.secret_kind("DB_PASSWORD", "${DB_PASSWORD}") is None
    assert secrets.secret_kind("DB_PASSWORD", "${DB_PASSWORD:-devdefault}") is None
    assert secrets.secret_kind("DB_PASSWORD", "changeme") is None
    assert secrets.secret_kind("API_KEY", "xxxxxxxxxxxx") is None
    assert secrets.secret_kind("REGION", "eu-west-1-long-name") is None
    assert secrets.secret_kind("TOKEN", 12345678901) is None


def test_mapping_redaction_keeps_references_and_flags_only() -> None:
    shown = secrets.redact_mapping(
        {"A": "${A}", "B": "1", "C": "true", "D": "postgres://u:p@h/db", "E": 3}
    )
    assert shown == {"A": "${A}", "B": "1", "C": "true", "D": secrets.REDACTED, "E": 3}


def test_argument_lists() -> None:
    args = ["--token", "abcdefghijkl1234", "--port", "8080", "ghp_" + "x" * 36, "--key", "$KEY"]
    assert secrets.redact_list(args) == [
        "--token",
        secrets.REDACTED,
        "--port",
        "8080",
        secrets.REDACTED,
        "--key",
        "$KEY",
    ]
    hits = list(secrets.scan_list(args, "args"))
    assert [(h.kind, h.where) for h in hits] == [
        ("literal value of token", "args[1]"),
        ("GitHub token", "args[4]"),
    ]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('"$CLAUDE_PROJECT_DIR"/.claude/hooks/a.sh', "/proj/.claude/hooks/a.sh"),
        ("${CLAUDE_PROJECT_DIR}/hooks/b.py --fast", "/proj/hooks/b.py"),
        ("python3 scripts/check.py --strict", "/proj/scripts/check.py"),
        ("uv run tools/lint.py", "/proj/tools/lint.py"),
        ("bash -e ./x.sh", "/proj/./x.sh"),
        ("FOO=1 ./run.sh", "/proj/./run.sh"),
        ("${CLAUDE_PLUGIN_ROOT}/bin/guard", "/plugin/bin/guard"),
        ("~/bin/notify", "/home/me/bin/notify"),
        ("jq -r .tool_input.command", None),
        ("npx prettier --write", None),
        ("$UNKNOWN/x.sh", None),
        ("echo 'unbalanced", None),
        ("python3", None),
    ],
)
def test_hook_script_resolution(command: str, expected: str | None) -> None:
    assert checks.script_path(command, "/proj", "/plugin", "/home/me") == expected


def test_user_hooks_with_relative_paths_are_not_guessed() -> None:
    assert checks.script_path("./x.sh", "", "", "/home/me") is None


def test_subagents_project_beats_user_and_mcp_local_beats_project_beats_user() -> None:
    user_agent = art("rev", "subagent", scope="user", project=None, path="/u/rev.md")
    project_agent = art("rev", "subagent", path="/p/.claude/agents/rev.md")
    user_mcp = art("db", "mcp-server", scope="user", project=None, path="/u/.claude.json")
    project_mcp = art("db", "mcp-server", path="/p/.mcp.json")
    local_mcp = art("db", "mcp-server", scope="local", path="/u/.claude.json#local")
    from stagent.scanner.walk import Project

    found = checks.duplicates(
        [user_agent, project_agent, user_mcp, project_mcp, local_mcp], [Project("/p", [".git"])]
    )
    shadowed = sorted(
        (f.path, f.message.split(" of the same name at ")[1].split(" ")[0]) for f in found
    )
    assert shadowed == [
        ("/p/.mcp.json", "/u/.claude.json#local"),
        ("/u/.claude.json", "/u/.claude.json#local"),
        ("/u/rev.md", "/p/.claude/agents/rev.md"),
    ]


def test_same_name_in_different_projects_is_no_duplicate() -> None:
    from stagent.scanner.walk import Project

    a = art("deploy", project="/a", path="/a/SKILL.md")
    b = art("deploy", project="/b", path="/b/SKILL.md")
    assert checks.duplicates([a, b], [Project("/a", []), Project("/b", [])]) == []


def test_doc_budget_uses_the_projects_own_limit_and_the_chain() -> None:
    root = art("AGENTS.md", "instruction", tool="codex", path="/p/AGENTS.md", size=600)
    nested = art("sub/AGENTS.md", "instruction", tool="codex", path="/p/sub/AGENTS.md", size=600)
    config = art(
        "config.toml",
        "config",
        tool="codex",
        path="/p/.codex/config.toml",
        metadata={"project_doc_max_bytes": 1000},
    )
    found = checks.codex_doc_budget([root, nested, config], None)
    assert [(f.path, "1,200 bytes" in f.message) for f in found] == [("/p/sub/AGENTS.md", True)]
    assert checks.codex_doc_budget([root, nested], None) == []  # default 32 KiB
    assert len(checks.codex_doc_budget([root, nested], 500)) == 2  # the user's limit


def test_score_caps_one_kind_and_rounds_the_mean() -> None:
    many = [finding("plaintext-secret", "error", f"/f{i}", 1, "m", "fix") for i in range(5)]
    scored = health(many)
    safety = next(d for d in scored.dimensions if d.name == "safety")
    assert safety.score == 100 - KIND_CAP
    assert scored.score == round((100 * 3 + 100 - KIND_CAP) / 4)
    assert health([]).score == 100
    assert all(
        k.dimension in {"instructions", "safety", "capability", "maintenance"}
        for k in KINDS.values()
    )


def test_front_matter_with_windows_line_endings() -> None:
    fm = front_matter("---\r\nname: x\r\ndescription: y\r\n---\r\nbody\r\n")
    assert fm.error is None and fm.meta == {"name": "x", "description": "y"}


def test_git_branch_of_a_worktree_and_a_detached_head(tmp_path: Path) -> None:
    write(tmp_path / "main" / ".git" / "worktrees" / "wt" / "HEAD", "ref: refs/heads/feature\n")
    write(tmp_path / "wt" / ".git", f"gitdir: {tmp_path / 'main' / '.git' / 'worktrees' / 'wt'}\n")
    assert git_branch(str(tmp_path / "wt")) == "feature"
    write(tmp_path / "detached" / ".git" / "HEAD", "0123456789abcdef0123\n")
    assert git_branch(str(tmp_path / "detached")) == "0123456789ab"
    assert git_branch(str(tmp_path / "nothing")) is None


def test_directory_listing_cache_follows_the_directory_mtime(tmp_path: Path) -> None:
    tmp_path = tmp_path / "d"
    tmp_path.mkdir()
    cache = FsCache()
    cache.begin()
    assert cache.listing(str(tmp_path)) == {}
    (tmp_path / "new.md").write_text("x")
    assert cache.listing(str(tmp_path)) == {}  # one check per scan
    cache.begin()
    assert cache.listing(str(tmp_path)) == {"new.md": False}
    assert cache.listing(str(tmp_path / "missing")) is None


def _report(artifacts: list[Artifact], projects: list[ProjectInfo]) -> ScanReport:
    return ScanReport(
        scanned_at=NOW,
        roots=[],
        locations={"home": "/home/me"},
        projects=projects,
        artifacts=artifacts,
        findings=[],
        score=100,
        health=Health(score=100, dimensions=[]),
        duration_ms=1.0,
    )


def test_comparison_matrix_and_portfolio() -> None:
    projects = [ProjectInfo(path="/a", name="a"), ProjectInfo(path="/b", name="b")]
    arts = [
        art("CLAUDE.md", "instruction", project="/a", path="/a/CLAUDE.md"),
        art("CLAUDE.md", "instruction", project="/b", path="/b/CLAUDE.md"),
        art("deploy", project="/a", path="/a/s/SKILL.md", content_hash="1"),
        art("deploy", project="/b", path="/b/s/SKILL.md", content_hash="2"),
        art("kit:deploy", scope="plugin", project=None, path="/plug/SKILL.md", content_hash="1"),
        art(
            "pdf",
            tool="shared",
            scope="user",
            project=None,
            path="/home/me/.claude/skills/pdf",
            shared_with=["/home/me/.agents/skills/pdf"],
            drift=True,
        ),
    ]
    matrix = views.comparison(_report(arts, projects))
    assert matrix.columns == ["User level", "a", "b"]
    assert [(r.category, r.name, r.cells) for r in matrix.rows] == [
        ("instruction", "CLAUDE.md", [False, True, True]),
        ("skill", "deploy", [False, True, True]),
        ("skill", "pdf", [True, False, False]),
    ]
    skills = {s.name: s for s in views.portfolio(_report(arts, projects))}
    assert skills["deploy"].variants == 2 and len(skills["deploy"].places) == 3
    assert [p.where for p in skills["deploy"].places] == ["a", "b", "plugin"]
    assert skills["pdf"].drift  # the two tools' copies differ
    report = _report(arts, projects)
    assert views.display_path("/a/s/SKILL.md", report) == "a/s/SKILL.md"
    assert views.display_path("/home/me/.claude/x", report) == "~/.claude/x"
    assert views.display_path("/elsewhere", report) == "/elsewhere"


def test_sparkline_runs_oldest_to_newest() -> None:
    def summary(score: int) -> ScanSummary:
        return ScanSummary(
            id="s",
            scanned_at=NOW,
            roots=[],
            score=score,
            duration_ms=1,
            artifact_count=0,
            project_count=0,
            errors=0,
            warnings=0,
            infos=0,
        )

    assert views.sparkline([]) == ""
    points = views.sparkline([summary(100), summary(50), summary(0)], width=100, height=10)
    assert points == "0.0,10.0 50.0,5.0 100.0,0.0"
    assert views.sparkline([summary(80)], width=10, height=10) == "0.0,2.0 10.0,2.0"
