"""Every finding kind fires on the broken tree (at the right file and line, with a fix) and
stays silent on the clean tree."""

from __future__ import annotations

import pytest
from scantools import Scanned

from stagent.scanner.findings import KINDS

# kind, file (relative to the tree root), line (None: no line applies), severity, message part
FIRES: list[tuple[str, str, int | None, str, str]] = [
    ("invalid-file", "work/webapp/.claude/settings.local.json", 3, "error", "invalid JSON"),
    ("invalid-file", "work/tools/.codex/config.toml", 2, "error", "invalid TOML"),
    ("invalid-file", "work/webapp/.claude/skills/broken-yaml/SKILL.md", 4, "error", "front matter"),
    ("missing-field", "work/webapp/.claude/agents/half-done.md", 1, "error", "no description"),
    ("missing-field", "work/webapp/.claude/skills/notes/SKILL.md", 1, "warning", "no description"),
    ("missing-field", "work/webapp/.agents/skills/lint/SKILL.md", 1, "error", "no name"),
    ("mcp-command-missing", "work/webapp/.mcp.json", 13, "error", "'definitely-not-installed-mcp'"),
    ("plaintext-secret", "work/webapp/.mcp.json", 10, "error", "GitHub token"),
    ("plaintext-secret", "work/webapp/.claude/settings.json", 11, "error", "Anthropic API key"),
    ("plaintext-secret", "home/.codex/config.toml", 11, "error", "OpenAI API key"),
    ("broad-permission", "work/webapp/.claude/settings.json", 5, "warning", "allow rule 'Bash'"),
    ("broad-permission", "work/webapp/.claude/settings.json", 8, "error", "bypassPermissions"),
    ("broad-permission", "home/.codex/config.toml", 2, "error", "danger-full-access"),
    ("ignored-rule", "work/webapp/.claude/settings.json", 6, "warning", "Write(./src/**)"),
    ("deprecated-setting", "home/.codex/config.toml", 3, "error", '"untrusted"'),
    ("deprecated-setting", "home/.codex/prompts", None, "warning", "custom prompt"),
    ("deprecated-setting", "home/.codex/skills", None, "warning", "older location"),
    ("deprecated-setting", "work/webapp/.claude/settings.json", 2, "warning", "includeCoAuthored"),
    ("instruction-too-large", "work/api/CLAUDE.md", None, "warning", "40,000"),
    ("instruction-too-large", "work/api/AGENTS.md", None, "warning", "32,768 bytes"),
    ("instruction-too-large", "home/.claude/skills/wordy/SKILL.md", 3, "warning", "1,536"),
    ("hook-script-missing", "work/webapp/.claude/settings.json", 20, "error", "check-bash.sh"),
    ("duplicate-name", "work/webapp/.claude/skills/release/SKILL.md", None, "warning", "shadowed"),
    ("duplicate-name", "home/.claude/commands/pdf-tools.md", None, "warning", "by the skill"),
    ("skill-drift", "home/.agents/skills/pdf-tools/SKILL.md", None, "warning", "differs"),
    ("no-instructions", "work/scratch", None, "info", "no CLAUDE.md or AGENTS.md"),
]


def test_every_kind_has_a_firing_case() -> None:
    assert {case[0] for case in FIRES} == set(KINDS)


@pytest.mark.parametrize(("kind", "path", "line", "severity", "part"), FIRES)
def test_fires_on_the_broken_tree(
    broken: Scanned, kind: str, path: str, line: int | None, severity: str, part: str
) -> None:
    hits = [f for f in broken.report.findings if f.kind == kind and broken.rel(f.path) == path]
    matching = [f for f in hits if part in f.message]
    assert matching, f"no {kind} finding at {path} mentioning {part!r}: {hits}"
    found = matching[0]
    assert found.line == line
    assert found.severity == severity
    assert found.fix and found.fix != found.message
    assert found.cost == KINDS[kind].cost(found.severity)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_silent_on_the_clean_tree(clean: Scanned, kind: str) -> None:
    assert [f for f in clean.report.findings if f.kind == kind] == []


def test_clean_tree_scores_full_marks(clean: Scanned) -> None:
    assert clean.report.findings == []
    assert clean.report.score == 100


def test_broken_tree_costs_each_dimension(broken: Scanned) -> None:
    dims = {d.name: d for d in broken.report.health.dimensions}
    assert all(d.score < 100 for d in dims.values())
    safety = dims["safety"]
    secret = next(d for d in safety.deductions if d.kind == "plaintext-secret")
    # three secrets at 25 points each, capped at 40 for one kind
    assert (secret.count, secret.points) == (3, 40)
    assert safety.score == 100 - sum(d.points for d in safety.deductions)
    overall = round(sum(d.score for d in dims.values()) / 4)
    assert broken.report.score == overall


def test_findings_are_sorted_most_severe_first(broken: Scanned) -> None:
    order = {"error": 0, "warning": 1, "info": 2}
    ranks = [order[f.severity] for f in broken.report.findings]
    assert ranks == sorted(ranks)
