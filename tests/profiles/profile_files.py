"""Helpers that write profile folders for tests."""

from __future__ import annotations

from pathlib import Path

SKILL = """---
name: {id}
description: Reviews code for a test.
---
# Reviewer

Read the diff, find the bugs, and report them with file and line.
"""

SPEC = """id: {id}
name: Test Reviewer
version: 1.0.0
domain: work
tags: [review, code]
supportedRuntimes: [claude, codex]
allowedTools: [Read, Grep, Glob]
canUseToolPolicy:
  autoApprove: [Read, Grep]
tests:
  - task: Review this function.
    expectedKeywords: [bug]
"""


def write_profile(
    root: Path,
    profile_id: str = "test-reviewer",
    *,
    spec: str | None = None,
    skill: str | None = None,
) -> Path:
    """Write ``root/<id>/SKILL.md`` and ``profile.yaml``; returns the folder."""
    folder = root / profile_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text((skill or SKILL).replace("{id}", profile_id), encoding="utf-8")
    (folder / "profile.yaml").write_text(
        (spec or SPEC).replace("{id}", profile_id), encoding="utf-8"
    )
    return folder
