"""Caches that make a re-scan of an unchanged tree cheap.

A directory listing is reused while the directory's mtime is unchanged (adding, removing or
renaming an entry changes it); a file's parse result is reused while its size and mtime are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, NamedTuple

from stagent.scanner.parse import BlockMemo


@dataclass(slots=True)
class Listing:
    """A directory's entries: name -> is a directory."""

    mtime_ns: int
    entries: dict[str, bool]


class FileStat(NamedTuple):
    """What decides whether a cached parse is still good."""

    size: int
    mtime_ns: int


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
        entries: dict[str, bool] = {}
        try:
            with os.scandir(path) as it:
                for entry in it:
                    try:
                        entries[entry.name] = entry.is_dir()
                    except OSError:
                        continue
        except OSError:
            return None
        self._dirs[path] = Listing(mtime, entries)
        return entries

    def stat(self, path: str) -> FileStat | None:
        """Size and mtime of a regular file (None if missing)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return FileStat(st.st_size, st.st_mtime_ns)

    def get(self, path: str, kind: str, context: Any, stat: FileStat) -> Any | None:
        """A cached parse of ``path`` by parser ``kind`` in ``context``, if still valid."""
        hit = self._files.get((path, kind, context))
        if hit is not None and hit[0] == stat:
            return hit[1]
        return None

    def put(self, path: str, kind: str, context: Any, stat: FileStat, value: Any) -> None:
        """Remember a parse result."""
        self._files[(path, kind, context)] = (stat, value)

    def clear(self) -> None:
        """Forget everything (the next scan is cold)."""
        self._dirs.clear()
        self._files.clear()
        self.blocks.clear()
