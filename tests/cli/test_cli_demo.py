"""`stagent demo` runs the real Claude Code CLI and Codex offline, on a simulated model."""

from __future__ import annotations

import json

import pytest
from clitools import Cli

pytestmark = pytest.mark.slow


def test_demo_runs_both_real_runtimes_to_completed_and_writes_the_files(cli: Cli) -> None:
    result = cli("demo", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["runtime"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"claude", "codex"}
    for row in rows.values():
        assert row["status"] == "completed", row
        assert row["result"] == "Done: NOTE.md is written."
        assert row["file_written"] is True


def test_demo_refuses_a_runtime_it_cannot_demonstrate(cli: Cli) -> None:
    result = cli("demo", "--runtime", "anthropic")
    assert result.exit_code == 2
    assert "claude and/or codex" in result.output
