"""Helpers for the CLI tests: the `Cli` runner wrapper and sample scenarios."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from stagent.cli.app import app

HELLO_SCENARIO = """\
name: hello
steps:
  - text: "Looking at the task."
  - tool: Write
    input: {file_path: notes.md, content: hi}
    output: wrote 2 bytes
  - usage: {model: scripted-1, input_tokens: 120, output_tokens: 40}
result: "Done."
"""

FAILING_SCENARIO = """\
name: failing
steps:
  - text: "Trying."
  - fail: "simulated provider error"
"""


@dataclass
class Cli:
    """Invokes ``stagent --home <tmp> ...`` in-process."""

    home: Path
    runner: CliRunner

    def __call__(self, *args: str, global_args: tuple[str, ...] = ()) -> Result:
        return self.runner.invoke(
            app, ["--home", str(self.home), *global_args, *args], catch_exceptions=False
        )

    def json(self, *args: str, expect_exit: int = 0) -> Any:
        """Run with ``--json``, check the exit code, and parse stdout."""
        result = self(*args, "--json")
        assert result.exit_code == expect_exit, result.output
        return json.loads(result.stdout)

    def add_task(self, title: str = "hello", *extra: str) -> str:
        """Create a task and return its id."""
        return str(self.json("task", "add", title, *extra)["id"])


def assert_one_line_error(result: Result, *, contains: str, exit_code: int = 1) -> str:
    """The command failed with one ``Error:`` line (plus an optional hint) and no traceback."""
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert contains in lines[0], lines[0]
    if len(lines) == 2:
        assert lines[1].startswith("hint: "), lines[1]
    return lines[0]
