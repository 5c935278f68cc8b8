"""The collector: stat a file, reuse its cached parse or parse it, and gather the results."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from stagent.scanner import secrets
from stagent.scanner.findings import finding
from stagent.scanner.fscache import FileStat, FsCache
from stagent.scanner.locations import Locations
from stagent.scanner.parse import BlockMemo, ParseError, line_of
from stagent.scanner.report import Artifact, Finding, Scope, Severity, Tool, trusted

sha1 = hashlib.sha1


class Where(NamedTuple):
    """Whose file this is: the tool, the scope, the project root and a name to fall back on.

    A named tuple: it is part of every cache key, and tuples hash and compare in C.
    """

    tool: Tool
    scope: Scope
    project: str | None = None
    label: str = ""
    extra: Hashable = None


@dataclass(slots=True)
class Parsed:
    """What one file yields: artifacts and the findings that depend on that file alone."""

    artifacts: list[Artifact] = field(default_factory=lambda: [])
    findings: list[Finding] = field(default_factory=lambda: [])


class FileContext:
    """A file being parsed: its text and the helpers that build artifacts and findings."""

    __slots__ = (
        "_may_hold",
        "_modified",
        "blocks",
        "out",
        "path",
        "sha256",
        "stat",
        "text",
        "where",
    )

    def __init__(
        self,
        path: str,
        text: str,
        sha256: str,
        stat: FileStat,
        where: Where,
        blocks: BlockMemo | None = None,
    ) -> None:
        self.path = path
        self.text = text
        self.sha256 = sha256
        self.stat = stat
        self.where = where
        self.blocks = blocks
        """The scanner's memo of parsed front matter."""
        self.out = Parsed()
        self._may_hold: bool | None = None
        self._modified: datetime | None = None

    @property
    def may_hold_secret(self) -> bool:
        """False when the file cannot contain a shaped secret (redaction can be skipped)."""
        if self._may_hold is None:
            self._may_hold = secrets.may_hold(self.text)
        return self._may_hold

    @property
    def modified_at(self) -> datetime:
        """The file's mtime."""
        if self._modified is None:
            self._modified = datetime.fromtimestamp(self.stat.mtime_ns / 1e9, UTC)
        return self._modified

    def artifact(
        self,
        category: str,
        name: str,
        metadata: dict[str, Any],
        *,
        line: int | None = None,
        content_hash: str | None = None,
        tool: Tool | None = None,
        scope: Scope | None = None,
        project: str | None = None,
    ) -> Artifact:
        """Add an artifact from this file (``content_hash`` for an entry of a larger file).

        Built without validation (`report.trusted`): every value here is already typed.
        """
        w = self.where
        tool = tool or w.tool
        scope = scope or w.scope
        project = project or w.project
        key = f"{tool}|{category}|{scope}|{self.path}|{name}"
        made = trusted(
            Artifact,
            {
                "id": sha1(key.encode()).hexdigest()[:16],
                "tool": tool,
                "category": category,
                "scope": scope,
                "project": project,
                "name": name,
                "path": self.path,
                "line": line,
                "content_hash": content_hash or self.sha256,
                "size": self.stat.size,
                "modified_at": self.modified_at,
                "metadata": metadata,
                "shared_with": [],
                "drift": False,
            },
        )
        self.out.artifacts.append(made)
        return made

    def finding(
        self, kind: str, severity: Severity, line: int | None, message: str, fix: str
    ) -> None:
        """Add a finding about this file."""
        self.out.findings.append(
            finding(
                kind,
                severity,
                self.path,
                line,
                message,
                fix,
                tool=self.where.tool,
                project=self.where.project,
            )
        )

    def invalid(self, what: str, error: ParseError, fix: str) -> None:
        """An invalid-file finding for a syntax error."""
        self.finding("invalid-file", "error", error.line, f"invalid {what}: {error.message}", fix)

    def secret_hits(self, hits: Iterable[secrets.SecretHit], fix: str) -> None:
        """A plaintext-secret finding per hit: kind and key path, never the value."""
        for hit in hits:
            self.finding(
                "plaintext-secret",
                "error",
                line_of(self.text, hit.value),
                f"{hit.kind} in plain text at {hit.where} (value redacted)",
                fix,
            )

    def text_secrets(self, fix: str) -> None:
        """Plaintext-secret findings for shaped secrets anywhere in the text."""
        if not self.may_hold_secret:
            return
        for kind, offset in secrets.scan_text(self.text):
            line = self.text.count("\n", 0, offset) + 1
            self.finding(
                "plaintext-secret", "error", line, f"{kind} in plain text (value redacted)", fix
            )


Parser = Callable[[FileContext], None]


@dataclass(slots=True)
class Inputs:
    """What a stretch of collecting read: directory listings (by identity: `FsCache` returns
    the same dict while a directory's mtime is unchanged) and file stats (None: absent)."""

    dirs: list[tuple[str, dict[str, bool] | None]] = field(default_factory=lambda: [])
    files: list[tuple[str, FileStat | None]] = field(default_factory=lambda: [])

    def unchanged(self, cache: FsCache) -> bool:
        """True if every listing and file is as it was (so is everything parsed from them)."""
        listing = cache.listing
        for path, entries in self.dirs:
            if listing(path) is not entries:
                return False
        stat = cache.stat
        return all(stat(path) == before for path, before in self.files)


@dataclass(slots=True)
class Recorded:
    """The output of a stretch of collecting and the `Inputs` it came from."""

    inputs: Inputs
    artifacts: list[Artifact]
    findings: list[Finding]


class Collector:
    """Gathers artifacts and findings for one scan, through the cache."""

    def __init__(self, cache: FsCache, locations: Locations) -> None:
        self.cache = cache
        self.loc = locations
        self.artifacts: list[Artifact] = []
        self.findings: list[Finding] = []
        self._inputs: Inputs | None = None

    def record(self, collect: Callable[[], None]) -> Recorded:
        """Run ``collect`` and note every listing and file it read (see `replay`)."""
        start_a, start_f = len(self.artifacts), len(self.findings)
        self._inputs = inputs = Inputs()
        try:
            collect()
        finally:
            self._inputs = None
        return Recorded(inputs, self.artifacts[start_a:], self.findings[start_f:])

    def replay(self, recorded: Recorded) -> bool:
        """Add a recorded stretch's output if none of its inputs changed; False otherwise."""
        if not recorded.inputs.unchanged(self.cache):
            return False
        self.artifacts.extend(recorded.artifacts)
        self.findings.extend(recorded.findings)
        return True

    def listing(self, path: str) -> dict[str, bool] | None:
        """A directory's entries (cached by mtime)."""
        entries = self.cache.listing(path)
        if self._inputs is not None:
            self._inputs.dirs.append((path, entries))
        return entries

    def file(self, path: str, parser: Parser, where: Where) -> bool:
        """Parse ``path`` with ``parser`` (or reuse the cached result); False if it is absent.

        A file never parsed by ``parser`` in ``where`` is opened straight away (its size and
        mtime come from ``fstat`` on the open file: open, fstat, read, close); a cached one is
        stat'ed first and read again only if it changed.
        """
        inputs = self._inputs
        cache = self.cache
        if not cache.maybe_exists(path):
            if inputs is not None:  # absent from its folder's listing: that listing decides
                parent = path.rpartition("/")[0] or "/"
                inputs.dirs.append((parent, cache.listed(parent)))
            return False
        kind = parser.__qualname__
        cached = cache.entry(path, kind, where)
        parsed: Parsed | None = None
        stat: FileStat | None = None
        if cached is not None:
            stat = cache.stat(path)
            if stat is not None and stat == cached[0]:
                parsed = cached[1]
        if parsed is None:
            got = cache.read(path)
            stat = got[0] if got is not None else None
            if got is not None:
                parsed = _parse(path, parser, where, got[0], got[1], cache.blocks)
                cache.put(path, kind, where, got[0], parsed)
        if inputs is not None:
            inputs.files.append((path, stat))
        if parsed is None:
            return False
        self.artifacts.extend(parsed.artifacts)
        self.findings.extend(parsed.findings)
        return True

    def add_finding(self, item: Finding) -> None:
        """A finding that depends on more than one file."""
        self.findings.append(item)


def _parse(
    path: str,
    parser: Parser,
    where: Where,
    stat: FileStat,
    data: bytes,
    blocks: BlockMemo | None = None,
) -> Parsed:
    ctx = FileContext(
        path,
        data.decode("utf-8", errors="replace"),
        hashlib.sha256(data).hexdigest(),
        stat,
        where,
        blocks,
    )
    parser(ctx)
    return ctx.out


def join(*parts: str) -> str:
    """Join path parts with ``/`` (the scanner works on absolute POSIX-style strings: cheaper
    than ``os.path.join`` or Path objects on its hot path)."""
    return "/".join((parts[0].rstrip("/") or "", *parts[1:]))
