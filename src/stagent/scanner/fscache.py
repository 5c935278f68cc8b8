"""Caches that make a re-scan of an unchanged tree cheap, and what decides they are still good.

A directory listing is reused while the directory's (mtime, ctime, inode, size) are unchanged
(adding, removing or renaming an entry changes its mtime; a folder moved in its place has
another inode); a file's parse result while its (size, mtime, ctime, inode) are (an edit
changes size or mtime, and ctime, which no program can set back; a file replaced by a rename
has another inode).

**Racy stats** (git's "racily clean" entries): file systems stamp times from a coarse clock,
so an edit made in the same tick as the scan's read could leave every one of those values as
it was. A stat whose mtime or ctime is within `RACY_NS` of the scan that took it is therefore
never trusted: the next scan reads the file (lists the folder) again, and reuses the parse
only if the bytes are the same. The limit left: a clock jump, or a network file system whose
server clock runs more than `RACY_NS` behind this machine's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from stat import S_ISREG
from typing import Any, NamedTuple

from stagent.scanner.parse import BlockMemo

RACY_NS = 2_000_000_000
"""How recent a change must be for its stat to be racy (2 s: FAT stamps mtime to 2 s, HFS+
and ext3 to 1 s; ext4, XFS, btrfs and APFS to a clock tick of a few ms)."""


class FileStat(NamedTuple):
    """What decides whether a cached parse is still good (a named tuple: compared in C)."""

    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int


UNSETTLED = FileStat(-1, -1, -1, -1)
"""Stands for a racy stat in a record of inputs: equal to no file's stat, so a replay that
meets it collects again."""

DirKey = tuple[int, int, int, int]


@dataclass(slots=True)
class Listing:
    """A directory's entries (name -> is a directory) and the stat they were listed under
    (None while racy)."""

    key: DirKey | None
    entries: dict[str, bool]


class Cached(NamedTuple):
    """A parse result and the stat of the file it came from (None while racy)."""

    stat: FileStat | None
    value: Any


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
TRIM_SLACK = 512
"""A cache is trimmed to what the last scan used once it holds twice that plus this many."""


def file_stat(st: os.stat_result) -> FileStat:
    """The `FileStat` of an ``os.stat`` result."""
    return FileStat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


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
    """Directory listings and parse results, valid while their stats stay the same.

    Its size is bounded by the tree: `end` drops what the last scan did not use once the
    cache holds more than twice that (a scanner of another tree does not keep the old one).
    """

    def __init__(self, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._dirs: dict[str, Listing] = {}
        self._files: dict[tuple[str, str, Hashable], Cached] = {}
        self._checked: dict[str, dict[str, bool] | None] = {}
        self._settled_before = 0
        self.blocks: BlockMemo = {}
        """Front matter parsed by its text (see `stagent.scanner.parse.front_matter`)."""
        self.by_content: dict[Hashable, Any] = {}
        """Parse results by the file's content hash, parser and `Where` without the project
        (see `stagent.scanner.collect`): a file copied into many projects parses once."""

    def begin(self) -> None:
        """Start a scan: each directory is checked at most once per scan."""
        self._checked = {}
        self._settled_before = self._clock() - RACY_NS

    def settled(self, mtime_ns: int, ctime_ns: int) -> bool:
        """True if a change at these times is old enough for its stat to be trusted."""
        before = self._settled_before
        return mtime_ns < before and ctime_ns < before

    def listing(self, path: str) -> dict[str, bool] | None:
        """The entries of ``path`` (None if it is not a readable directory); the very same
        dict while the directory is unchanged."""
        checked = self._checked
        if path in checked:
            return checked[path]
        entries = self._list(path) if self.maybe_exists(path) else None
        checked[path] = entries
        return entries

    def maybe_exists(self, path: str) -> bool:
        """False if ``path``'s parent (or grandparent) was listed in this scan without it (no
        system call); True when it may exist (then a stat decides)."""
        checked = self._checked
        parent, _, name = path.rpartition("/")
        parent = parent or "/"
        if parent in checked:
            entries = checked[parent]
            return entries is not None and name in entries
        grand, _, parent_name = parent.rpartition("/")
        grand = grand or "/"
        if grand in checked:  # the parent was not listed in this scan, its parent was
            above = checked[grand]
            return above is not None and above.get(parent_name) is True
        return True  # neither listed in this scan: let the stat decide

    def listed(self, path: str) -> dict[str, bool] | None:
        """The entries of ``path`` as listed in this scan (call after `listing`)."""
        return self._checked.get(path)

    def _list(self, path: str) -> dict[str, bool] | None:
        try:
            st = os.stat(path)
        except OSError:
            self._dirs.pop(path, None)
            return None
        key: DirKey = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size)
        cached = self._dirs.get(path)
        if cached is not None and cached.key == key:
            return cached.entries
        try:
            entries = _entries(path)
        except OSError:
            return None
        if cached is not None and cached.entries == entries:
            entries = cached.entries  # the same dict: a record of it stays valid
        settled = self.settled(st.st_mtime_ns, st.st_ctime_ns)
        self._dirs[path] = Listing(key if settled else None, entries)
        return entries

    def stat(self, path: str) -> FileStat | None:
        """Size, mtime, ctime and inode of a regular file (None if missing or not a regular
        file)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not S_ISREG(st.st_mode):
            return None
        return FileStat(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def read(self, path: str) -> tuple[FileStat, bytes] | None:
        """A regular file's stat and its bytes, in four system calls (open, fstat, read,
        close); None if it is missing, unreadable or not a regular file (a FIFO is opened
        non-blocking, so it never hangs the scan)."""
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
        return FileStat(len(data), st.st_mtime_ns, st.st_ctime_ns, st.st_ino), data

    def entry(self, path: str, kind: str, context: Hashable) -> Cached | None:
        """The cached parse of ``path`` by parser ``kind`` in ``context`` and the stat it was
        made from (the caller checks it is still valid)."""
        return self._files.get((path, kind, context))

    def put(self, path: str, kind: str, context: Hashable, stat: FileStat, value: Any) -> bool:
        """Remember a parse result; False if ``stat`` is racy (then it is never trusted)."""
        before = self._settled_before
        settled = stat.mtime_ns < before and stat.ctime_ns < before
        self._files[(path, kind, context)] = Cached(stat if settled else None, value)
        return settled

    def end(self, used: int, used_paths: Callable[[], set[str]]) -> None:
        """End a scan: trim the caches to what it used if they hold more than twice that.

        ``used`` is how many files the scan stat'ed or read and ``used_paths`` gives them (called
        only when a trim is due); listings are kept for the folders this scan checked, and
        content-memo entries for the files it used."""
        if len(self._files) > 2 * used + TRIM_SLACK:
            paths = used_paths()
            self._files = {k: v for k, v in self._files.items() if k[0] in paths}
            self.by_content = {k: v for k, v in self.by_content.items() if v.path in paths}
        checked = self._checked
        if len(self._dirs) > 2 * len(checked) + TRIM_SLACK:
            self._dirs = {k: v for k, v in self._dirs.items() if k in checked}

    def sizes(self) -> tuple[int, int, int]:
        """How many listings, parse results and content-memo entries the cache holds."""
        return len(self._dirs), len(self._files), len(self.by_content)

    def clear(self) -> None:
        """Forget everything (the next scan is cold)."""
        self._dirs.clear()
        self._files.clear()
        self.blocks.clear()
        self.by_content.clear()
