"""Reading a log's complete lines from a stored position, whatever the chunk size."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagent.ledger.importers import reader


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunks of 16 bytes, so lines cross and outgrow them."""
    monkeypatch.setattr(reader, "CHUNK_BYTES", 16)
    return 16


def complete_lines(log: Path, offset: int) -> list[tuple[int, bytes]]:
    """(bytes consumed after the chunk, line) for every line read from ``offset``."""
    return [
        (consumed, line)
        for consumed, lines in reader.complete_chunks(log, offset)
        for line in lines
    ]


def test_lines_longer_than_a_chunk_come_back_whole(tmp_path: Path, small_chunks: int) -> None:
    lines = [b"a" * (small_chunks * 5 + 3), b"", b"short", b"b" * small_chunks, b"c" * 40]
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")

    read = complete_lines(log, 0)

    assert [line for _, line in read] == lines
    assert read[-1][0] == log.stat().st_size


def test_a_line_still_being_written_is_left_for_next_time(
    tmp_path: Path, small_chunks: int
) -> None:
    log = tmp_path / "log.jsonl"
    log.write_bytes(b'{"one": 1}\n' + b'{"two": ' + b"2" * small_chunks * 3)

    read = complete_lines(log, 0)

    assert [line for _, line in read] == [b'{"one": 1}']
    consumed = read[-1][0]
    with log.open("ab") as handle:
        handle.write(b"}\n")
    assert [line for _, line in complete_lines(log, consumed)] == [
        b'{"two": ' + b"2" * small_chunks * 3 + b"}"
    ]


def test_reading_resumes_at_the_stored_offset(tmp_path: Path, small_chunks: int) -> None:
    log = tmp_path / "log.jsonl"
    first = b"x" * (small_chunks + 1) + b"\n"
    log.write_bytes(first + b"second line that spans chunks\n")

    read = complete_lines(log, len(first))

    assert read == [(30, b"second line that spans chunks")]
