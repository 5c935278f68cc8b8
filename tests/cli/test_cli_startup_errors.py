"""What ``serve``, ``worker`` and the everyday commands say when they cannot start: a bad
setting, a data directory that is a file, an unreachable PostgreSQL, a bad port, a public
address without a good token. One ``Error:`` line and a hint (or the one JSON error shape with
``--json``), exit code 1, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clitools import Cli, assert_one_line_error

from stagent.cli.app import app

UNREACHABLE_DB = "postgresql+psycopg://stagent:s3cret@127.0.0.1:1/nowhere"

COMMANDS = [
    ("worker",),
    ("serve", "--no-open", "--port", "0"),
    ("task", "list"),
    ("ledger", "import", "all"),
]
"""The long-running commands, a read and a write: every one opens the workspace one way."""


def _json_error(cli: Cli, *args: str, global_args: tuple[str, ...] = ()) -> dict[str, Any]:
    """The command's ``--json`` error: exit 1, one JSON document on stdout, nothing else."""
    result = cli(*args, "--json", global_args=global_args)
    assert result.exit_code == 1, result.output
    assert result.stderr == "" and "Traceback" not in result.output
    error: dict[str, Any] = json.loads(result.stdout)
    assert error["ok"] is False and set(error) >= {"status", "code", "error", "hint"}
    return error


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_an_unreachable_postgresql_is_named_without_its_password(
    cli: Cli, command: tuple[str, ...]
) -> None:
    result = cli(*command, global_args=("--database-url", UNREACHABLE_DB))
    line = assert_one_line_error(
        result, contains="cannot open database postgresql+psycopg://stagent:***@127.0.0.1:1/"
    )
    assert "s3cret" not in result.output and "Connection refused" in line

    error = _json_error(cli, *command, global_args=("--database-url", UNREACHABLE_DB))
    assert (error["code"], error["status"]) == ("database_unavailable", 503)
    assert "s3cret" not in json.dumps(error)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_data_directory_that_is_a_file_is_named(
    cli: Cli, command: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    monkeypatch.setenv("STAGENT_HOME", str(a_file / "stagent"))

    result = cli.runner.invoke(app, list(command), catch_exceptions=False)  # no --home

    assert_one_line_error(result, contains=f"cannot use the data directory {a_file / 'stagent'}")
    assert result.stderr.splitlines()[1] == "hint: pick another one with --home or STAGENT_HOME"
    monkeypatch.setenv("STAGENT_HOME", str(a_file))
    result = cli.runner.invoke(app, [*command, "--json"], catch_exceptions=False)
    error = json.loads(result.stdout)
    assert result.exit_code == 1 and error["code"] == "invalid_input"
    assert error["error"] == f"cannot use the data directory {a_file}: File exists"


def test_a_database_folder_that_is_a_file_is_the_databases_error(cli: Cli, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    url = f"sqlite:///{a_file}/stagent.sqlite"
    result = cli("task", "add", "x", global_args=("--database-url", url))
    assert_one_line_error(
        result, contains=f"cannot open database: [Errno 17] File exists: '{a_file}'"
    )


@pytest.mark.parametrize(
    ("variable", "value", "contains"),
    [
        ("STAGENT_LOG_LEVEL", "chatty", "setting log_level: input should be 'debug', 'info'"),
        ("STAGENT_PORT", "eighty", "setting port: input should be a valid integer"),
        ("STAGENT_PORT", "70000", "setting port: input should be less than or equal to 65535"),
        ("STAGENT_CONCURRENCY", "0", "setting concurrency: input should be greater than"),
    ],
)
def test_a_bad_setting_stops_serve_and_worker_before_anything_starts(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, contains: str
) -> None:
    monkeypatch.setenv(variable, value)
    for command in (("worker",), ("serve", "--no-open")):  # no --port: it would win over $PORT
        result = cli(*command)
        assert_one_line_error(result, contains=contains)
        assert result.stderr.splitlines()[1] == (
            f"hint: check {variable} or the matching command-line option"
        )
        assert _json_error(cli, *command)["code"] == "invalid_input"
    assert not (cli.home / "stagent.sqlite").exists()


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_a_setting_error_not_a_bug(cli: Cli, port: str) -> None:
    result = cli("serve", "--no-open", "--port", port)
    assert_one_line_error(result, contains="setting port: input should be")
    assert "Internal error" not in result.output


def test_worker_concurrency_out_of_range_is_named(cli: Cli) -> None:
    result = cli("worker", "--concurrency", "65")
    assert_one_line_error(result, contains="setting concurrency: input should be less than")
    error = _json_error(cli, "worker", "--concurrency", "0")
    assert error["error"] == "setting concurrency: input should be greater than or equal to 1"


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (None, "without an access token"),
        ("s3cret", "STAGENT_TOKEN is too weak (6 characters; at least 24 are needed)"),
        ("ab" * 20, "STAGENT_TOKEN is too weak (only 2 different characters)"),
    ],
)
def test_a_public_address_needs_a_strong_token(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, token: str | None, why: str
) -> None:
    if token is not None:
        monkeypatch.setenv("STAGENT_TOKEN", token)
    result = cli("serve", "--host", "0.0.0.0", "--port", "0", "--no-open")
    line = assert_one_line_error(result, contains=why)
    assert line.startswith("Error: refusing to serve on 0.0.0.0")
    if token is not None:
        assert token not in result.output  # the token itself is never printed

    error = _json_error(cli, "serve", "--host", "0.0.0.0", "--port", "0", "--no-open")
    assert (error["code"], error["error"]) == ("invalid_input", line.removeprefix("Error: "))
    assert not (cli.home / "stagent.sqlite").exists()
