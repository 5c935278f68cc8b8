"""Caches that make a re-scan of an unchanged tree cheap.

A directory listing is reused while the directory's mtime is unchanged (adding, removing or
renaming an entry changes it); a file's parse result is reused while its size and mtime are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from stat import S_ISREG
from typing import Any, NamedTuple

from stagent.scanner.parse import BlockMemo


@dataclass(slots=True)
class Listing:
    """A directory's entries: name -> is a directory."""

    mtime_ns: int
    entries: dict[str, bool]


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class FileStat(NamedTuple):
    """What decides whether a cached parse is still good."""

    size: int
    mtime_ns: int


def _entries(path: str) -> dict[str, bool]:
    """A directory's entries: name -> is a directory (from the entry type, no stat)."""
    with os.scandir(path) as it:
        try:
            return {entry.name: entry.is_dir() for entry in it}
        except OSError:  # an entry vanished while its type was looked up: go one by one
            pass
    entries: dict[str, bool] = {}
    with os.scandir(path) as it:
        for entry in it:
            try:
                entries[entry.name] = entry.is_dir()
            except OSError:
                continue
    return entries


class FsCache:
    """Directory listings and parse results, valid while size and mtime stay the same."""

    def __init__(self) -> None:
        self._dirs: dict[str, Listing] = {}
        self._files: dict[tuple[str, str, Any], tuple[FileStat, Any]] = {}
        self._checked: dict[str, dict[str, bool] | None] = {}
        self.blocks: BlockMemo = {}
        """Front matter parsed by its text (see `stagent.scanner.parse.front_matter`)."""

    def begin(self) -> None:
        """Start a scan: each directory is checked at most once per scan."""
        self._checked = {}

    def listing(self, path: str) -> dict[str, bool] | None:
        """The entries of ``path`` (None if it is not a readable directory)."""
        if path in self._checked:
            return self._checked[path]
        entries = self._list(path)
        self._checked[path] = entries
        return entries

    def maybe_exists(self, path: str) -> bool:
        """False if ``path``'s parent was listed in this scan without it (no syscall); True
        when it may exist (then a stat decides)."""
        parent, _, name = path.rpartition("/")
        entries = self._checked.get(parent or "/", self)
        if entries is self:
            return True  # parent not listed in this scan: let the stat decide
        return entries is not None and name in entries  # pyright: ignore[reportOperatorIssue]

    def listed(self, path: str) -> dict[str, bool] | None:
        """The entries of ``path`` as listed in this scan (call after `listing`)."""
        return self._checked.get(path)

    def _list(self, path: str) -> dict[str, bool] | None:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            self._dirs.pop(path, None)
            return None
        cached = self._dirs.get(path)
        if cached is not None and cached.mtime_ns == mtime:
            return cached.entries
        try:
            entries = _entries(path)
        except OSError:
            return None
        self._dirs[path] = Listing(mtime, entries)
        return entries

    def stat(self, path: str) -> FileStat | None:
        """Size and mtime of a regular file (None if missing or not a regular file)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not S_ISREG(st.st_mode):
            return None
        return FileStat(st.st_size, st.st_mtime_ns)

    def read(self, path: str) -> tuple[FileStat, bytes] | None:
        """A regular file's size and mtime and its bytes, in four system calls (open, fstat,
        read, close); None if it is missing, unreadable or not a regular file (a FIFO is
        opened non-blocking, so it never hangs the scan)."""
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not S_ISREG(st.st_mode):
                return None
            size = st.st_size
            data = os.read(fd, size + 1)
            if len(data) > size:  # the file grew since fstat: read the rest
                chunks = [data]
                while chunk := os.read(fd, 1 << 16):
                    chunks.append(chunk)
                data = b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(fd)
        return FileStat(len(data), st.st_mtime_ns), data

    def entry(self, path: str, kind: str, context: Any) -> tuple[FileStat, Any] | None:
        """The cached parse of ``path`` by parser ``kind`` in ``context`` and the stat it was
        made from (the caller checks it is still valid)."""
        return self._files.get((path, kind, context))

    def put(self, path: str, kind: str, context: Any, stat: FileStat, value: Any) -> None:
        """Remember a parse result."""
        self._files[(path, kind, context)] = (stat, value)

    def clear(self) -> None:
        """Forget everything (the next scan is cold)."""
        self._dirs.clear()
        self._files.clear()
        self.blocks.clear()
