"""The read-only commands find the same workspace as every other command, and their errors name
the fix.

``task list``/``show``/``runs``, ``project list`` and ``inbox`` take the home and database URL
from `stagent.locations` (not `Settings`) and read with plain sqlite3; these tests pin that
they follow ``--database-url``, ``STAGENT_DATABASE_URL`` and ``--home`` exactly as ``task add``
does, and that ``--options`` (whose YAML parser now loads only when used) still reports bad
input as one line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error


def _url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def test_the_database_url_option_is_followed_by_reads_and_writes(cli: Cli, tmp_path: Path) -> None:
    elsewhere = ("--database-url", _url(tmp_path / "elsewhere.sqlite"))
    cli.add_task("in the home")
    added = cli("task", "add", "elsewhere", "--json", global_args=elsewhere)
    assert added.exit_code == 0, added.output

    listed = cli("task", "list", "--json", global_args=elsewhere)
    projects = cli("project", "list", global_args=elsewhere)

    assert '"title": "elsewhere"' in listed.stdout and "in the home" not in listed.stdout
    assert [task["title"] for task in cli.json("task", "list")] == ["in the home"]
    assert "No projects yet" in projects.stdout


def test_the_database_url_variable_is_followed_by_reads(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGENT_DATABASE_URL", _url(tmp_path / "from-env.sqlite"))
    cli.add_task("from the variable")
    monkeypatch.delenv("STAGENT_DATABASE_URL")
    assert cli.json("task", "list") == []
    monkeypatch.setenv("stagent_database_url", _url(tmp_path / "from-env.sqlite"))
    assert [task["title"] for task in cli.json("task", "list")] == ["from the variable"]


def test_task_runs_json_is_one_record_per_run(cli: Cli) -> None:
    task_id = cli.add_task("ran twice")
    assert cli.json("task", "runs", task_id) == []
    assert "has not run yet" in cli("task", "runs", task_id).stdout
    cli("task", "run", task_id)
    cli("task", "run", task_id)

    runs = cli.json("task", "runs", task_id)

    assert [run["number"] for run in runs] == [1, 2]
    assert {run["status"] for run in runs} == {"completed"}
    assert runs == cli.json("task", "show", task_id)["runs"]


def test_a_project_filter_that_matches_nothing_names_the_fix(cli: Cli) -> None:
    cli.add_task("x")
    line = assert_one_line_error(cli("task", "list", "--project", "nope"), contains="'nope'")
    assert line == "Error: no project with id or name 'nope'"
    assert "stagent project list" in cli("task", "list", "--project", "nope").stderr


def test_options_that_are_not_yaml_are_one_line_error(cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(
        cli("task", "add", "x", "--options", "{limits: [unclosed"),
        contains="--options: not valid JSON or YAML",
    )
    missing = tmp_path / "missing.yaml"
    assert_one_line_error(
        cli("task", "add", "x", "--options", f"@{missing}"), contains=f"cannot read {missing}"
    )
    assert_one_line_error(
        cli("task", "add", "x", "--options", "[1, 2]"), contains="must be a mapping"
    )


def test_options_from_a_file_are_applied(cli: Cli, tmp_path: Path) -> None:
    options = tmp_path / "options.yaml"
    options.write_text("model: m-1\nlimits: {max_turns: 4}\n")

    added = cli.json("task", "add", "x", "--options", f"@{options}")

    assert added["options"]["model"] == "m-1"
    assert added["options"]["limits"]["max_turns"] == 4
