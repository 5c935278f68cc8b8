"""Bad input gets one line naming what is wrong and a non-zero exit; never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error

from stagent.engine.services import ProjectService

UNREACHABLE_DB = "postgresql+psycopg://nobody:s3cret@127.0.0.1:1/x"


@pytest.mark.parametrize("command", ["show", "run", "cancel"])
def test_unknown_task_id(cli: Cli, command: str) -> None:
    result = cli("task", command, "tsk_missing")
    assert_one_line_error(result, contains="no task with id 'tsk_missing'")


def test_unknown_task_id_json(cli: Cli) -> None:
    error = cli.json("task", "show", "tsk_missing", expect_exit=1)
    assert error == {
        "ok": False,
        "status": 404,
        "code": "not_found",
        "error": "no task with id 'tsk_missing'",
        "hint": "list tasks with `stagent task list`",
    }


def test_invalid_transition_cancel_completed(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task("done", "--scenario", str(hello_scenario))
    assert cli("task", "run", task_id).exit_code == 0
    result = cli("task", "cancel", task_id)
    assert_one_line_error(result, contains="from completed to cancelled")
    assert cli.json("task", "cancel", task_id, expect_exit=1)["code"] == "invalid_transition"


def test_invalid_transition_cancel_twice(cli: Cli) -> None:
    task_id = cli.add_task("x")
    assert cli("task", "cancel", task_id).exit_code == 0
    assert_one_line_error(cli("task", "cancel", task_id), contains="cancelled to cancelled")


def test_malformed_scenario_names_file_line_and_field(
    cli: Cli, scenario_file: Callable[..., Path]
) -> None:
    path = scenario_file("steps:\n  - text: hi\n  - delay: -3\n", "bad.yaml")
    line = assert_one_line_error(
        cli("task", "add", "x", "--scenario", str(path)), contains="bad.yaml:3"
    )
    assert "steps[1].delay" in line
    assert cli.json("task", "list") == [], "nothing is created from a bad scenario"


def test_scenario_step_with_unknown_key(cli: Cli, scenario_file: Callable[..., Path]) -> None:
    path = scenario_file("steps:\n  - say: hi\n", "odd.yaml")
    assert_one_line_error(cli("task", "add", "x", "--scenario", str(path)), contains="odd.yaml:2")


def test_scenario_that_is_not_yaml(cli: Cli, scenario_file: Callable[..., Path]) -> None:
    path = scenario_file("steps: [unclosed\n", "broken.yaml")
    assert_one_line_error(cli("task", "add", "x", "--scenario", str(path)), contains="broken.yaml")


def test_missing_scenario_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("task", "add", "x", "--scenario", str(tmp_path / "nope.yaml"))
    assert_one_line_error(result, contains="no such scenario file")


def test_malformed_scenario_json_mode(cli: Cli, scenario_file: Callable[..., Path]) -> None:
    path = scenario_file("steps:\n  - delay: -3\n", "bad.yaml")
    error = cli.json("task", "add", "x", "--scenario", str(path), expect_exit=1)
    assert error["code"] == "invalid_scenario"
    assert "bad.yaml:2" in error["error"]


def test_invalid_status_value(cli: Cli) -> None:
    line = assert_one_line_error(cli("task", "list", "--status", "bogus"), contains="'bogus'")
    assert line == "Error: status: 'bogus' is not a task status"
    assert cli.json("task", "list", "--status", "bogus", expect_exit=1)["code"] == "invalid_input"


def test_unknown_runtime(cli: Cli) -> None:
    assert_one_line_error(cli("task", "add", "x", "--runtime", "gpt-9"), contains="'gpt-9'")


def test_priority_out_of_range(cli: Cli) -> None:
    assert_one_line_error(cli("task", "add", "x", "--priority", "9"), contains="priority")


def test_unknown_project(cli: Cli) -> None:
    assert_one_line_error(cli("task", "add", "x", "--project", "nope"), contains="'nope'")
    assert_one_line_error(cli("task", "list", "--project", "nope"), contains="'nope'")


def test_unreachable_database(cli: Cli) -> None:
    result = cli("task", "list", global_args=("--database-url", UNREACHABLE_DB))
    line = assert_one_line_error(result, contains="cannot open database postgresql+psycopg://")
    assert "s3cret" not in result.output, "passwords never reach the terminal"
    assert "127.0.0.1:1" in line


def test_unreachable_database_json(cli: Cli) -> None:
    result = cli("db", "upgrade", "--json", global_args=("--database-url", UNREACHABLE_DB))
    assert result.exit_code == 1
    error = json.loads(result.stdout)
    assert error["code"] == "database_unavailable"
    assert "s3cret" not in result.stdout


def test_unreachable_database_from_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGENT_DATABASE_URL", UNREACHABLE_DB)
    assert_one_line_error(cli("project", "list"), contains="cannot open database")


def test_unparsable_database_url(cli: Cli) -> None:
    result = cli("task", "list", global_args=("--database-url", "nonsense://x"))
    assert_one_line_error(result, contains="cannot open database")


def test_invalid_setting_from_environment(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGENT_CONCURRENCY", "0")
    assert_one_line_error(cli("task", "list"), contains="setting concurrency")


def test_usage_errors_are_typers_own(cli: Cli) -> None:
    result = cli("task", "add")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_unexpected_exception_is_one_line_internal_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `project add` always goes through the workspace's services (reads may take the plain
    # sqlite3 path, which never calls ProjectService once the database exists).
    def broken(self: ProjectService, *args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ProjectService, "create", broken)
    monkeypatch.delenv("STAGENT_RAISE_ERRORS")

    result = cli("project", "add", "demo")

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert lines == [
        "Internal error: RuntimeError: boom",
        "hint: this is a bug in Stagent; set STAGENT_RAISE_ERRORS=1 to see the traceback",
    ]
    error = cli.json("project", "add", "demo", expect_exit=1)
    assert error["code"] == "internal"


def test_raise_errors_shows_the_real_exception(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: ProjectService, *args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(ProjectService, "create", broken)
    with pytest.raises(RuntimeError, match="boom"):
        cli("project", "add", "demo")


def test_version(cli: Cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("stagent ")
