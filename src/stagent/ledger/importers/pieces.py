"""An import's reading in pieces: byte ranges of its files, each read (lines parsed, the copies
of one call within it narrowed to the best, those priced) into a `PieceResult`, which the
importer then merges in file order.

A large first import reads pieces in a second process too (`results_in_order`): the machine's
other core parses while this process parses, merges and books. A mid-size one (a re-run's new
lines) hands the later half of its pieces to a forked process and reads the earlier half itself
(`results_in_halves`: no pool, no queue). Results come back in file order whoever read them, so
every copy choice, count and read position is what reading the pieces one after another gives.
The second process is forked (it inherits the parsers, the price table and the projects, and
loads nothing), only from the CLI's own process, never from a server's.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from stagent.ledger.importers.calls import CallCopy, MalformedLineError
from stagent.ledger.importers.reader import chunks_of

if TYPE_CHECKING:
    from concurrent.futures import Future

    from stagent.store.sqlite_imports import ImportedRow

PIECE_BYTES = 2 << 20
"""The size of a piece: a file with more new bytes is read as several (a piece's calls are
held until it is merged: peak memory follows it and the read-ahead)."""
PARALLEL_BYTES = 32 << 20
"""New bytes from which an import reads in a second process fed through a pool
(`results_in_order`; below, the pool's start-up and feeding cost more than they save)."""
HALVES_BYTES = 2 << 20
"""New bytes from which an import forks one process to read the later half of its pieces
(`results_in_halves`; below, the fork costs more than the half it reads)."""
WORKER_QUEUE = 8
"""Pieces handed to the second process ahead of the one it is reading."""
AHEAD = 12
"""Pieces read but not yet merged, at most (this process reads ahead while the other works)."""
MAX_EXAMPLES = 20
"""Malformed lines a piece lists (all are counted)."""

Rank = tuple[bool, int, bool]
"""How good a copy of a call is (`CallCopy.rank`): the larger is kept."""


class Piece(NamedTuple):
    """The lines of file number ``file`` that start in ``[start, end)`` (``end`` None: up to
    the file's last complete line); ``aligned``: a line starts at ``start``."""

    file: int
    path: str
    start: int
    end: int | None
    aligned: bool
    size: int = 0
    """The bytes it spans as planned (what `results_in_halves` splits by)."""


class PieceResult(NamedTuple):
    """What one piece held: the best copy of each call in it as ``(dedupe key, rank, row)``
    (first-seen order), and its counts."""

    rows: list[tuple[str, Rank, ImportedRow]]
    duplicates: int
    malformed: int
    examples: list[tuple[int, str]]
    """(line number within the piece, from 1; why) of the first malformed lines."""
    lines: int
    first: int
    """Where its first line starts."""
    stop: int
    """Where the line after its last complete one starts (``first`` if it has none)."""

    @property
    def bytes_read(self) -> int:
        """The bytes of its complete lines."""
        return self.stop - self.first


def pieces_of(file: int, path: str, offset: int, size: int) -> list[Piece]:
    """The pieces of a file read from ``offset`` (a line start) that was ``size`` bytes."""
    if size - offset <= PIECE_BYTES:
        return [Piece(file, path, offset, None, True, size - offset)]
    starts = list(range(offset, size, PIECE_BYTES))
    ends: list[int | None] = [*starts[1:], None]
    return [
        Piece(file, path, start, end, start == offset, (end or size) - start)
        for start, end in zip(starts, ends, strict=True)
    ]


def read_piece(
    piece: Piece,
    parse: Callable[[bytes], CallCopy | None],
    row_of: Callable[[Any], ImportedRow],
) -> PieceResult:
    """Read ``piece``: parse its lines, keep the best copy of each call, price the kept ones
    (``row_of``). A malformed line is counted and listed, never raised."""
    calls: dict[str, Any] = {}
    lines = duplicates = malformed = 0
    first = stop = piece.start
    examples: list[tuple[int, str]] = []
    for start, end, chunk in _owned_chunks(piece):
        if not lines:
            first = start
        stop = end
        for line in chunk:  # the hot loop
            lines += 1
            try:
                copy = parse(line)
            except MalformedLineError as exc:
                malformed += 1
                if len(examples) < MAX_EXAMPLES:
                    examples.append((lines, str(exc)))
                continue
            if copy is None:
                continue
            key = copy.dedupe_key
            kept = calls.get(key)
            if kept is None:
                calls[key] = copy
                continue
            duplicates += 1
            if copy.rank > kept.rank:
                calls[key] = copy
    if not lines:
        first = stop = piece.start
    rows = [(key, copy.rank, row_of(copy)) for key, copy in calls.items()]
    return PieceResult(rows, duplicates, malformed, examples, lines, first, stop)


def _owned_chunks(piece: Piece) -> Iterator[tuple[int, int, list[bytes]]]:
    """(where the piece's first line starts, where the line after the chunk starts, the
    chunk's lines) for the complete lines that start in the piece."""
    end = piece.end
    with open(piece.path, "rb") as handle:  # a str path, as the worker gets it
        start = piece.start
        if not piece.aligned:  # its first line starts after the first newline from start - 1
            handle.seek(start - 1)
            skipped = handle.readline()
            if not skipped.endswith(b"\n"):
                return
            start += len(skipped) - 1
            if end is not None and start >= end:
                return
        for consumed, lines in chunks_of(handle, start):
            stop = start + consumed
            if end is not None and stop > end:  # drop the lines that start at or after end
                while lines and stop - len(lines[-1]) - 1 >= end:
                    stop -= len(lines.pop()) + 1
                if lines:
                    yield start, stop, lines
                return
            yield start, stop, lines


_WORKER: dict[str, Callable[[Piece], PieceResult]] = {}
"""The second process's reader (installed when it is forked)."""


def _install(read: Callable[[Piece], PieceResult]) -> None:
    _WORKER["read"] = read


def _read_in_worker(piece: Piece) -> PieceResult:
    return _WORKER["read"](piece)


def can_fork() -> bool:
    """Whether this system forks and this process may use more than one core."""
    import multiprocessing

    return _cores() > 1 and "fork" in multiprocessing.get_all_start_methods()


def can_halve() -> bool:
    """Whether this process may fork (`os.fork`) and use more than one core."""
    return hasattr(os, "fork") and _cores() > 1


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def results_in_halves(
    pieces: list[Piece], read: Callable[[Piece], PieceResult]
) -> Generator[tuple[Piece, PieceResult]]:
    """Each piece with what ``read`` found in it, in the pieces' order: a forked process reads
    the later half (by bytes) and sends its results through a pipe once done, while this one
    reads the earlier half. Should the other process fail, this one reads its half too."""
    import _pickle  # pickle's C half: `pickle.py` itself costs ~6M instructions more

    total = sum(piece.size for piece in pieces)
    cut, seen = len(pieces), 0
    for number, piece in enumerate(pieces):
        if seen >= total // 2:
            cut = number
            break
        seen += piece.size
    mine, theirs = pieces[:cut], pieces[cut:]
    if not theirs:
        for piece in mine:
            yield piece, read(piece)
        return
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the forked process: coverage does not follow it)
        _read_for_parent(theirs, read, readable, writable)
    os.close(writable)
    found: list[PieceResult] | None = None
    try:
        for piece in mine:
            yield piece, read(piece)
        data = _read_all(readable)
        _, status = os.waitpid(child, 0)
        child = 0
        if status == 0 and data:
            found = _pickle.loads(data)  # our own forked process wrote it
    finally:
        os.close(readable)
        if child:  # stopped early (an error, or the caller stopped): end the other process
            import signal

            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
    if found is None or len(found) != len(theirs):
        found = [read(piece) for piece in theirs]
    yield from zip(theirs, found, strict=True)


def _read_for_parent(
    pieces: list[Piece], read: Callable[[Piece], PieceResult], readable: int, writable: int
) -> None:  # pragma: no cover (runs in the forked process)
    """The forked process: read ``pieces``, write their results to ``writable``, and leave at
    once (no exit handlers, no flushing of buffers or closing of connections it inherited)."""
    import _pickle

    code = 1
    try:
        os.close(readable)
        data = memoryview(_pickle.dumps([read(piece) for piece in pieces], 5))
        while data:
            data = data[os.write(writable, data) :]
        code = 0
    finally:
        os._exit(code)


def _read_all(readable: int) -> bytes:
    parts: list[bytes] = []
    while part := os.read(readable, 1 << 20):
        parts.append(part)
    return b"".join(parts)


def results_in_order(
    pieces: Iterable[Piece], read: Callable[[Piece], PieceResult], *, parallel: bool
) -> Generator[tuple[Piece, PieceResult]]:
    """Each piece with what ``read`` found in it, in the pieces' order. ``parallel``: a forked
    second process reads pieces too (`WORKER_QUEUE` of them handed ahead) while this one reads
    the next ones itself whenever the oldest outstanding piece is not back yet (at most `AHEAD`
    held), so both cores parse and results still merge in order."""
    if not parallel:
        for piece in pieces:
            yield piece, read(piece)
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("fork"), initializer=_install, initargs=(read,)
    )
    try:
        window: deque[tuple[Piece, Future[PieceResult] | PieceResult]] = deque()
        waiting: deque[Piece] = deque(pieces)
        while waiting or window:
            busy = sum(1 for _, slot in window if isinstance(slot, Future) and not slot.done())
            while waiting and busy < WORKER_QUEUE and len(window) < AHEAD:
                piece = waiting.popleft()
                window.append((piece, pool.submit(_read_in_worker, piece)))
                busy += 1
            piece, slot = window[0]
            if isinstance(slot, Future):
                if not slot.done() and waiting and len(window) < AHEAD:
                    ahead = waiting.popleft()
                    window.append((ahead, read(ahead)))
                    continue
                slot = slot.result()
            window.popleft()
            yield piece, slot
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
