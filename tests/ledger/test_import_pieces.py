"""A large import reads its files in pieces, some in a second process: every complete line is
read once whatever the piece size, and what is booked (rows, copies kept, counts, malformed
lines by file:line, read positions) is what reading everything in one process books."""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.ledger.logtools import claude_assistant, claude_transcript, claude_user
from tests.ledger.test_import_plain import prepared, stored

from stagent.ledger.importers import pieces, reader
from stagent.ledger.importers.calls import CLAUDE_CODE, MalformedLineError
from stagent.ledger.importers.opening import plain_importer
from stagent.locations import default_database_url
from stagent.store.sqlite_imports import open_sqlite_imports


def lines_of_pieces(log: Path, offset: int, piece_bytes: int) -> tuple[list[bytes], int]:
    """Every line the pieces of ``log`` from ``offset`` read (in order), and where reading
    would go on."""
    seen: list[bytes] = []

    def parse(line: bytes) -> None:
        seen.append(line)

    size = log.stat().st_size
    stop = offset
    for piece in _pieces(log, offset, size, piece_bytes):
        result = pieces.read_piece(piece, parse, lambda copy: copy)
        assert result.lines == 0 or result.first == stop  # no gap, no overlap
        stop = result.stop if result.lines else stop
    return seen, stop


def _pieces(log: Path, offset: int, size: int, piece_bytes: int) -> list[pieces.Piece]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pieces, "PIECE_BYTES", piece_bytes)
        return pieces.pieces_of(0, str(log), offset, size)


@pytest.mark.parametrize("piece_bytes", [1, 2, 3, 5, 8, 13, 40, 1000])
def test_pieces_read_every_complete_line_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_bytes: int
) -> None:
    monkeypatch.setattr(reader, "CHUNK_BYTES", 7)
    lines = [b"a" * 30, b"", b"bb", b"c", b"d" * 9, b"", b"eeeeeee", b"f" * 15]
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n" + b"still being writ")

    seen, stop = lines_of_pieces(log, 0, piece_bytes)
    assert seen == lines
    assert stop == log.stat().st_size - len(b"still being writ")

    offset = len(lines[0]) + 1 + len(lines[1]) + 1  # resuming after two lines
    seen, stop = lines_of_pieces(log, offset, piece_bytes)
    assert seen == lines[2:]


def test_malformed_lines_are_numbered_within_their_piece(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"ok\nbad\nok\nok\nbad\n")

    def parse(line: bytes) -> None:
        if line == b"bad":
            raise MalformedLineError("not a JSON object")

    (second,) = [p for p in _pieces(log, 0, log.stat().st_size, 7) if p.start == 7]
    result = pieces.read_piece(second, parse, lambda copy: copy)
    assert (result.lines, result.malformed, result.examples) == (3, 1, [(3, "not a JSON object")])


def transcripts(root: Path, turns: int, start: int = 0) -> None:
    """Two sessions' transcripts: streamed responses (a placeholder copy, then the final one),
    a side-chain replay of the first session's calls in the second, malformed lines."""
    first: list[str] = [claude_user()]
    second: list[str] = []
    for n in range(start, start + turns):
        stamp = f"2026-11-{20 + n % 5}T{n % 24:02d}:00:00.000Z"
        first += [
            claude_assistant(f"msg_{n}", f"req_{n}", output_tokens=1, cache_1h=900,
                             timestamp=stamp),
            claude_assistant(f"msg_{n}", f"req_{n}", output_tokens=80 + n, cache_1h=900,
                             timestamp=stamp, text="x" * (n * 37 % 300)),
        ]  # fmt: skip
        if n % 7 == 0:
            first.append('{"type": "assistant", "message": {"usage": ')
        second.append(
            claude_assistant(f"msg_{n}", f"side_{n}", output_tokens=80 + n, cache_1h=900,
                             timestamp=stamp, sidechain=True, session="s2")
        )  # fmt: skip
        second.append(claude_assistant(f"own_{n}", f"r2_{n}", timestamp=stamp, session="s2"))
    for name, lines in (("first", first), ("second", second)):
        path = root / "projects" / "-home-dev-work-site" / f"{name}.jsonl"
        if path.exists():
            with path.open("a") as handle:
                handle.write("".join(line + "\n" for line in lines))
        else:
            claude_transcript(root, lines, name=name)


def imported(home: Path, logs: Path, *, parallel: bool) -> dict[str, Any]:
    plain = open_sqlite_imports(default_database_url(home))
    assert plain is not None
    try:
        importer = plain_importer(plain, home)
        importer.parallel = parallel
        report = importer.run(importer.plan(CLAUDE_CODE, logs)).as_json()
    finally:
        plain.close()
    return {key: value for key, value in report.items() if key != "malformed_examples"} | {
        "malformed_examples": [e.replace(str(logs), "") for e in report["malformed_examples"]]
    }


def test_an_import_read_in_two_processes_books_what_one_process_books(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (tmp_path / "site").mkdir()
    for home in (one, two):
        prepared(home, tmp_path / "site")
    logs = tmp_path / "claude"
    transcripts(logs, 40)
    submitted: list[object] = []
    submit = ProcessPoolExecutor.submit

    def counted(self: ProcessPoolExecutor, *args: Any, **kwargs: Any) -> Any:
        submitted.append(args)
        return submit(self, *args, **kwargs)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counted)
    monkeypatch.setattr(pieces, "can_fork", lambda: True)
    monkeypatch.setattr(pieces, "PARALLEL_BYTES", 0)

    alone = imported(one, logs, parallel=False)  # one piece per file
    monkeypatch.setattr(pieces, "PIECE_BYTES", 900)  # streamed copies cross pieces
    together = imported(two, logs, parallel=True)

    assert submitted  # the second process read pieces
    assert together == alone
    assert alone["calls_added"] == 80 and alone["malformed_lines"] == 6
    assert stored(two) == stored(one)

    transcripts(logs, 10, start=40)  # more of both sessions: read from where each stopped
    assert imported(two, logs, parallel=True) == imported(one, logs, parallel=False)
    assert stored(two) == stored(one)
    conn = sqlite3.connect(two / "stagent.sqlite")
    try:
        outputs = conn.execute(
            "SELECT output_tokens FROM usage_ledger WHERE dedupe_key = 'claude-code:msg_45'"
        ).fetchall()
    finally:
        conn.close()
    assert outputs == [(125,)]  # the main chain's final copy, booked once


def halved(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Imports from here on read their later half in a forked process (`results_in_halves`);
    the pids of the processes forked for it are listed."""
    forked: list[int] = []
    fork = os.fork

    def counted() -> int:
        child = fork()
        if child:
            forked.append(child)
        return child

    monkeypatch.setattr(os, "fork", counted)
    monkeypatch.setattr(pieces, "can_halve", lambda: True)
    monkeypatch.setattr(pieces, "HALVES_BYTES", 0)
    monkeypatch.setattr(pieces, "PARALLEL_BYTES", 1 << 40)  # never the pool
    return forked


def test_a_re_run_read_in_halves_books_what_one_process_books(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (tmp_path / "site").mkdir()
    for home in (one, two):
        prepared(home, tmp_path / "site")
    logs = tmp_path / "claude"
    transcripts(logs, 40)
    assert imported(two, logs, parallel=False) == imported(one, logs, parallel=False)
    transcripts(logs, 30, start=40)  # the re-run's new lines, in both files
    forked = halved(monkeypatch)

    alone = imported(one, logs, parallel=False)
    monkeypatch.setattr(pieces, "PIECE_BYTES", 900)  # many pieces; streamed copies cross them
    together = imported(two, logs, parallel=True)

    assert len(forked) == 1  # the later half was read by a second process
    assert together == alone
    assert alone["calls_added"] == 60 and alone["malformed_lines"] == 4
    assert stored(two) == stored(one)


def test_when_the_second_process_fails_this_one_reads_its_half(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    (tmp_path / "site").mkdir()
    for home in (one, two):
        prepared(home, tmp_path / "site")
    logs = tmp_path / "claude"
    transcripts(logs, 40)
    alone = imported(one, logs, parallel=False)
    forked = halved(monkeypatch)
    parent = os.getpid()
    read_piece = pieces.read_piece

    def failing_elsewhere(*args: Any) -> pieces.PieceResult:
        if os.getpid() != parent:
            raise OSError("the disk went away")
        return read_piece(*args)

    monkeypatch.setattr(pieces, "read_piece", failing_elsewhere)
    monkeypatch.setattr(pieces, "PIECE_BYTES", 900)
    together = imported(two, logs, parallel=True)

    assert len(forked) == 1
    assert together == alone  # nothing of the failed half lost or counted twice
    assert stored(two) == stored(one)
