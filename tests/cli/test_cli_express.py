"""``stagent ledger import`` runs without Typer on a ready SQLite file (`stagent.cli.express`),
and reads exactly as the Typer command does: same reports, same errors, help and anything the
lane does not take left to Typer. (What it loads: ``tests/cli/test_cli_lazy.py``.)"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import Cli

from stagent.cli.express import ImportRequest, parse
from stagent.store.sqlite_imports import LEFT_WAL_BYTES, open_sqlite_imports


def stagent(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A real ``stagent --home HOME ARGS`` process."""
    env = {**os.environ, "STAGENT_HOME": str(home)}
    env.pop("STAGENT_RAISE_ERRORS", None)
    return subprocess.run(
        [sys.executable, "-m", "stagent", "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def transcript(root: Path, *message_ids: str) -> str:
    """A Claude Code config folder with one session of calls ``message_ids``; its path."""
    path = root / "projects" / "-src" / "session.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for n, message_id in enumerate(message_ids):
        usage = {"input_tokens": 3, "output_tokens": 100 + n}
        message = {"id": message_id, "model": "claude-sonnet-4-5", "usage": usage}
        lines.append({"type": "assistant", "requestId": f"req_{n}", "sessionId": "s1",
                      "cwd": "/src", "timestamp": f"2026-11-20T10:00:{n:02d}Z",
                      "message": message})  # fmt: skip
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(root)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ledger", "import", "all"], ImportRequest("all", None, False, None, None)),
        (
            [
                "--home",
                "h",
                "--database-url=sqlite:///x",
                "ledger",
                "import",
                "--json",
                "codex",
                "--path=logs",
            ],
            ImportRequest("codex", Path("logs"), True, Path("h"), "sqlite:///x"),
        ),  # fmt: skip
        (
            ["--home=h", "ledger", "import", "claude-code", "--path", "logs"],
            ImportRequest("claude-code", Path("logs"), False, Path("h"), None),
        ),
    ],
)
def test_the_lane_reads_the_import_command_line(argv: list[str], expected: ImportRequest) -> None:
    assert parse(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["ledger", "import"],  # Click says what is missing
        ["ledger", "import", "all", "--help"],
        ["ledger", "import", "-h"],
        ["--version", "ledger", "import", "all"],
        ["ledger", "import", "all", "--path"],
        ["ledger", "import", "all", "--path", "a", "--path", "b"],
        ["ledger", "import", "all", "--pth", "a"],
        ["ledger", "import", "all", "codex"],
        ["--home", "", "ledger", "import", "all"],
        ["ledger", "list"],
        ["task", "list"],
        [],
    ],
)
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def test_an_import_through_the_lane_reports_as_the_typer_command_does(
    cli: Cli, tmp_path: Path
) -> None:
    cli.add_task("first")  # a ready home
    logs = transcript(tmp_path / "claude", "msg_1", "msg_2")
    typer_report = cli.json("ledger", "import", "claude-code", "--path", logs)
    transcript(tmp_path / "claude", "msg_1", "msg_2", "msg_3")

    done = stagent(cli.home, "ledger", "import", "claude-code", "--path", logs, "--json")

    assert done.returncode == 0, done.stderr
    (report,) = json.loads(done.stdout)
    assert set(report) == set(typer_report[0])
    assert (report["calls_added"], report["files_read"]) == (1, 1)
    people = stagent(cli.home, "ledger", "import", "claude-code", "--path", logs)
    assert "import:claude-code: 1 files (0 read, 0.0 MiB), 0 calls added" in people.stdout
    rows = cli.json("ledger", "list", "--source", "claude-code")
    assert sorted(row["output_tokens"] for row in rows) == [100, 101, 102]


def test_errors_read_as_the_typer_commands(cli: Cli, tmp_path: Path) -> None:
    cli.add_task("first")
    typer_error = cli("ledger", "import", "claud")

    done = stagent(cli.home, "ledger", "import", "claud")
    missing = stagent(
        cli.home, "ledger", "import", "all", "--path", str(tmp_path / "nope"), "--json"
    )

    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == typer_error.output.strip()
    assert "'claud': import claude-code, codex or all" in done.stderr
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"] == f"--path: {tmp_path / 'nope'} does not exist"


def test_help_and_usage_errors_are_typers(cli: Cli) -> None:
    cli.add_task("first")
    helped = stagent(cli.home, "ledger", "import", "--help")
    unnamed = stagent(cli.home, "ledger", "import")

    assert helped.returncode == 0 and "Import hand-run Claude Code and Codex" in helped.stdout
    assert unnamed.returncode == 2 and "Missing argument" in unnamed.stderr


def test_a_home_without_a_database_is_created_by_the_workspace(tmp_path: Path) -> None:
    logs = transcript(tmp_path / "claude", "msg_1")

    done = stagent(tmp_path / "fresh", "ledger", "import", "claude-code", "--path", logs)

    assert done.returncode == 0, done.stderr
    assert "1 calls added" in done.stdout
    assert (tmp_path / "fresh" / "stagent.sqlite").is_file()


def test_the_lane_says_where_it_found_nothing(cli: Cli, tmp_path: Path) -> None:
    cli.add_task("first")  # a ready home
    (tmp_path / "empty").mkdir()

    done = stagent(cli.home, "ledger", "import", "claude-code", "--path", str(tmp_path / "empty"))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == f"  no session files found in {tmp_path / 'empty'}"


def _booked(home: Path) -> tuple[list[tuple[str, int]], list[int]]:
    """The imported calls (dedupe key, output tokens) and read positions a new read-only
    connection sees, as the read commands open the file (`store/sqlite_reads.py`)."""
    conn = sqlite3.connect(f"file:{home / 'stagent.sqlite'}?mode=ro", uri=True)
    try:
        calls = conn.execute("SELECT dedupe_key, output_tokens FROM usage_ledger ORDER BY 1")
        positions = conn.execute('SELECT "offset" FROM ledger_import_files')
        return [(str(k), int(t)) for k, t in calls], [int(o) for (o,) in positions]
    finally:
        conn.close()


def test_a_re_run_leaves_its_committed_wal_to_the_next_opener(tmp_path: Path) -> None:
    home = tmp_path / "home"
    logs = transcript(tmp_path / "claude", "msg_1")
    assert stagent(home, "ledger", "import", "claude-code", "--path", logs).returncode == 0
    assert not (home / "stagent.sqlite-wal").exists()  # the workspace closed: checkpointed
    transcript(tmp_path / "claude", "msg_1", "msg_2", "msg_3")
    size = (tmp_path / "claude" / "projects" / "-src" / "session.jsonl").stat().st_size

    done = stagent(home, "ledger", "import", "claude-code", "--path", logs, "--json")

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["calls_added"] == 2
    wal = (home / "stagent.sqlite-wal").stat().st_size
    assert 0 < wal <= LEFT_WAL_BYTES  # the process ended without checkpointing at its close
    calls, positions = _booked(home)  # committed (synchronous=FULL) before the process ended
    assert [tokens for _key, tokens in calls] == [100, 101, 102] and positions == [size]
    again = stagent(home, "ledger", "import", "claude-code", "--path", logs, "--json")
    assert json.loads(again.stdout)[0]["calls_added"] == 0 and _booked(home) == (calls, positions)


def test_a_wal_above_the_limit_is_checkpointed_and_removed_at_the_end(tmp_path: Path) -> None:
    """Every lane import ends with a WAL of at most `LEFT_WAL_BYTES` or none: it does not
    grow from re-run to re-run (SQLite's own checkpoint at 1,000 pages bounds it between)."""
    home = tmp_path / "home"
    logs = transcript(tmp_path / "claude", "msg_1")
    stagent(home, "ledger", "import", "claude-code", "--path", logs)
    transcript(tmp_path / "claude", "msg_1", "msg_2")
    stagent(home, "ledger", "import", "claude-code", "--path", logs)
    wal = home / "stagent.sqlite-wal"
    with wal.open("ab") as grown:  # as a large first import leaves it: past its valid frames
        grown.truncate(LEFT_WAL_BYTES + 1)
    transcript(tmp_path / "claude", "msg_1", "msg_2", "msg_3")

    done = stagent(home, "ledger", "import", "claude-code", "--path", logs, "--json")

    assert json.loads(done.stdout)[0]["calls_added"] == 1
    assert not wal.exists()
    assert [tokens for _key, tokens in _booked(home)[0]] == [100, 101, 102]


def test_the_import_connection_commits_durably(tmp_path: Path) -> None:
    """Its commits sync the WAL (``synchronous=FULL``), so it may end unclosed."""
    home = tmp_path / "home"
    stagent(home, "ledger", "import", "claude-code", "--path", transcript(tmp_path, "msg_1"))
    plain = open_sqlite_imports(f"sqlite:///{home / 'stagent.sqlite'}")
    assert plain is not None
    try:
        assert plain._conn.execute("PRAGMA synchronous").fetchone() == (2,)  # pyright: ignore[reportPrivateUsage]
    finally:
        plain.close()
