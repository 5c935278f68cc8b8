"""``stagent ledger import`` as a person (and a script) runs it through Typer: malformed lines
named by file and line (in a file read in several pieces, and on a re-run that reads only what
was added), a progress bar on a terminal for a large import and never with ``--json``, the
reports' JSON, and a missing ``--path``. (The express lane: ``test_cli_express.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error
from tests.ledger.logtools import codex_meta, codex_rollout, codex_tokens, codex_turn

from stagent.cli.consoles import err_console
from stagent.ledger.importers.pieces import PIECE_BYTES

REPORT_KEYS = [
    "source", "files", "files_read", "bytes_read", "lines_read", "calls_added", "calls_replaced",
    "duplicates_skipped", "malformed_lines", "malformed_examples", "restarted", "skipped",
    "unpriced_models",
]  # fmt: skip
"""What a script reads from each report of ``ledger import --json``, in order."""


def call(n: int, model: str = "claude-sonnet-4-5") -> str:
    """A Claude Code transcript line with one call (``n`` makes it unique)."""
    usage = {"input_tokens": 3, "output_tokens": 10}
    message = {"id": f"msg_{n}", "model": model, "usage": usage, "pad": "x" * 200}
    return json.dumps(
        {"type": "assistant", "requestId": f"req_{n}", "sessionId": "s1", "cwd": "/src",
         "timestamp": f"2026-11-20T10:{n // 60 % 60:02d}:{n % 60:02d}Z", "message": message}
    )  # fmt: skip


def transcript(root: Path, lines: list[str]) -> Path:
    """A Claude Code config folder under ``root`` with one session file of ``lines``."""
    path = root / "projects" / "-src" / "session.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in lines)
    return path


def big_session(root: Path, size: int, broken: dict[int, str]) -> tuple[Path, int]:
    """A session of at least ``size`` bytes of calls, line ``n`` replaced by ``broken[n]``;
    its path and number of lines."""
    lines: list[str] = []
    total = 0
    while total < size:
        n = len(lines) + 1
        lines.append(broken.get(n, call(n)))
        total += len(lines[-1]) + 1
    return transcript(root, lines), len(lines)


def test_malformed_lines_are_named_by_file_and_line(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "claude"
    broken = {2: '{"type": "assistant", "message": {"usage": ', 9000: "[1, 2]"}
    path, count = big_session(root, 3 * PIECE_BYTES, broken)  # read as pieces
    assert count > 9000

    first = cli("ledger", "import", "claude-code", "--path", str(root))

    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert f"{count - 2} calls added" in lines[0]
    assert lines[1:] == [
        "  2 malformed lines skipped:",
        f"    {path}:2: not a JSON object (invalid JSON: unexpected end of data)",
        f"    {path}:9000: not a JSON object (an array)",
    ]

    transcript(root, [call(count + 1), "garbage", call(count + 2)])
    again = cli.json("ledger", "import", "claude-code", "--path", str(root))

    assert [list(report) for report in again] == [REPORT_KEYS]
    [report] = again
    assert (report["calls_added"], report["lines_read"], report["malformed_lines"]) == (2, 3, 1)
    assert report["malformed_examples"] == [
        f"{path}:{count + 2}: not a JSON object (invalid JSON: unexpected character, expected a "
        "JSON value)"
    ]


def test_many_malformed_lines_are_counted_past_the_examples(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "claude"
    path = transcript(root, [call(1), *(["not json"] * 25)])

    result = cli("ledger", "import", "claude-code", "--path", str(root))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "  25 malformed lines skipped:"
    assert lines[2] == (
        f"    {path}:2: not a JSON object (invalid JSON: invalid literal, expected 'null')"
    )
    assert lines[-1] == "    ... and 5 more"  # 20 examples, then the count of the rest


def test_a_large_import_shows_progress_on_a_terminal_and_never_with_json(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(err_console, "_force_terminal", True)  # as on a terminal
    monkeypatch.setattr(err_console, "is_interactive", True)
    monkeypatch.setattr("stagent.cli.ledger_import.PROGRESS_BYTES", PIECE_BYTES)
    cli.add_task("a ready home")
    small, big = tmp_path / "small", tmp_path / "big"
    transcript(small, [call(1)])
    big_session(big, 2 * PIECE_BYTES, {})

    quiet = cli("ledger", "import", "claude-code", "--path", str(small))
    shown = cli("ledger", "import", "claude-code", "--path", str(big))
    scripted = cli("ledger", "import", "claude-code", "--path", str(big), "--json")

    assert quiet.exit_code == shown.exit_code == scripted.exit_code == 0
    assert quiet.stderr == ""  # little to read: no bar
    assert "import:claude-code" in shown.stderr and "MB" in shown.stderr  # the bar, on stderr
    assert shown.stdout.startswith("import:claude-code: 1 files (1 read, ")
    assert scripted.stderr == ""
    assert json.loads(scripted.stdout)[0]["calls_added"] == 0  # read before


def test_all_reports_each_source_in_order(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    transcript(root, [call(1, model="claude-opus-9")])

    reports = cli.json("ledger", "import", "all", "--path", str(root))

    assert [report["source"] for report in reports] == ["import:claude-code", "import:codex"]
    assert all(list(report) == REPORT_KEYS for report in reports)
    assert reports[0]["unpriced_models"] == {"claude-opus-9": 1}
    people = cli("ledger", "import", "all", "--path", str(root))
    assert people.stdout.splitlines()[0].startswith("import:claude-code: 1 files (0 read")


def test_a_missing_path_is_one_line_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"

    result = cli("ledger", "import", "codex", "--path", str(missing))
    error = cli.json("ledger", "import", "codex", "--path", str(missing), expect_exit=1)

    assert_one_line_error(result, contains=f"--path: {missing} does not exist")
    assert (error["code"], error["error"]) == ("invalid_input", f"--path: {missing} does not exist")
    assert cli.json("ledger", "list") == []


def test_a_source_with_no_files_says_where_it_looked(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{tmp_path / 'one'},{tmp_path / 'two'}")
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))

    given = cli("ledger", "import", "claude-code", "--path", str(empty))
    default = cli("ledger", "import", "all")
    scripted = cli.json("ledger", "import", "all")

    assert given.exit_code == default.exit_code == 0
    assert given.stdout.splitlines()[1] == f"  no session files found in {empty}"
    lines = default.stdout.splitlines()
    assert lines[1] == f"  no session files found in {tmp_path / 'one'} or {tmp_path / 'two'}"
    assert lines[3] == f"  no session files found in {tmp_path / 'codex'}"
    assert [report["files"] for report in scripted] == [0, 0]  # JSON: the counts say it


def test_one_transcript_file_imports_as_its_folder_would_and_resumes_where_it_stopped(
    cli: Cli, tmp_path: Path
) -> None:
    root = tmp_path / "claude"
    path = transcript(root, [call(1), call(2)])

    first = cli("ledger", "import", "claude-code", "--path", str(path))
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("import:claude-code: 1 files (1 read, ")
    assert "2 calls added" in first.stdout

    transcript(root, [call(3)])
    [again] = cli.json("ledger", "import", "claude-code", "--path", str(path))
    assert (again["files"], again["lines_read"], again["calls_added"]) == (1, 1, 1)
    [folder] = cli.json("ledger", "import", "claude-code", "--path", str(root))
    assert (folder["files"], folder["files_read"], folder["calls_added"]) == (1, 0, 0)


def test_one_codex_rollout_file_imports_and_a_file_that_is_no_log_is_named(
    cli: Cli, tmp_path: Path
) -> None:
    session = "0199a7c2-5b1e-7d30-9c4a-1f2e3d4c5b6a"
    tokens = codex_tokens((10_000, 4_000, 200, 0), ts="2026-11-21T12:00:00Z")
    rollout = codex_rollout(tmp_path / "codex", session, [codex_meta(session), codex_turn()])
    notes = tmp_path / "notes.txt"
    notes.write_text("not a log\n")

    with rollout.open("a") as out:
        out.write(tokens + "\n")
    [report] = cli.json("ledger", "import", "codex", "--path", str(rollout))
    assert (report["files"], report["calls_added"], report["malformed_lines"]) == (1, 1, 0)

    for which in ("codex", "claude-code"):
        [none] = cli.json("ledger", "import", which, "--path", str(notes))
        assert (none["files"], none["malformed_lines"]) == (0, 0)
    people = cli("ledger", "import", "all", "--path", str(notes))
    assert people.exit_code == 0
    lines = people.stdout.splitlines()
    assert lines[1] == f"  {notes} is not a session log: Claude Code transcripts are .jsonl files"
    assert lines[3] == f"  {notes} is not a session log: Codex rollouts are .jsonl files"
