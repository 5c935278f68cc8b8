"""The collector: stat a file, reuse its cached parse or parse it, and gather the results."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from stagent.scanner import secrets
from stagent.scanner.findings import finding
from stagent.scanner.fscache import UNSETTLED, FileStat, FsCache
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

        A file never parsed by ``parser`` in ``where`` is opened straight away (its stat comes
        from ``fstat`` on the open file: open, fstat, read, close); a cached one is stat'ed
        first and read again only if it changed (or its stat was racy, see `fscache`).
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
            if stat is not None and stat == cached.stat:
                parsed = cached.value
        if parsed is None:
            got = cache.read(path)
            stat = None
            if got is not None:
                stat, data = got
                parsed = self._parse(path, parser, where, stat, data)
                if not cache.put(path, kind, where, stat, parsed):
                    stat = UNSETTLED  # racy: a replay of this record collects again
        if inputs is not None:
            inputs.files.append((path, stat))
        if parsed is None:
            return False
        self.artifacts.extend(parsed.artifacts)
        self.findings.extend(parsed.findings)
        return True

    def _parse(
        self, path: str, parser: Parser, where: Where, stat: FileStat, data: bytes
    ) -> Parsed:
        """Parse ``data``, or re-stamp the result of a file with the same bytes, parser and
        `Where` (but another path or project, or another stat): a skill copied into many
        projects parses once. A `path_bound` parser's result is reused only for the same file
        with the same stat."""
        sha256 = hashlib.sha256(data).hexdigest()
        bound = parser in _PATH_BOUND
        key = (
            (sha256, parser, where, path)
            if bound
            else (sha256, parser, where.tool, where.scope, where.label, where.extra, _name(path))
        )
        memo = self.cache.by_content
        made: Made | None = memo.get(key)
        if made is not None:
            if made.path == path and made.project == where.project and made.stat == stat:
                return made.parsed
            if not bound:
                return _restamp(made, path, where.project, stat)
        parsed = _parse(path, parser, where, stat, data, sha256, self.cache.blocks)
        memo[key] = Made(path, where.project, stat, parsed)
        return parsed

    def add_finding(self, item: Finding) -> None:
        """A finding that depends on more than one file."""
        self.findings.append(item)


def _parse(
    path: str,
    parser: Parser,
    where: Where,
    stat: FileStat,
    data: bytes,
    sha256: str,
    blocks: BlockMemo | None = None,
) -> Parsed:
    ctx = FileContext(path, data.decode("utf-8", errors="replace"), sha256, stat, where, blocks)
    parser(ctx)
    return ctx.out


_PATH_BOUND: set[Parser] = set()


def path_bound(parser: Parser) -> Parser:
    """Mark a parser whose result depends on more than the file's bytes, its `Where` and
    its name (e.g. whether the file is executable): it is never reused across files."""
    _PATH_BOUND.add(parser)
    return parser


def _name(path: str) -> str:
    return path.rpartition("/")[2]


class Made(NamedTuple):
    """A parse result in the content memo and the file it was made from."""

    path: str
    project: str | None
    stat: FileStat
    parsed: Parsed


def _restamp(made: Made, path: str, project: str | None, stat: FileStat) -> Parsed:
    """``made``'s artifacts and findings for another file with the same bytes: new path,
    project (where it came from the file's `Where`), ids, and modification time."""
    modified = datetime.fromtimestamp(stat.mtime_ns / 1e9, UTC)
    before = made.project
    artifacts: list[Artifact] = []
    for a in made.parsed.artifacts:
        fields = dict(a.__dict__)
        key = f"{a.tool}|{a.category}|{a.scope}|{path}|{a.name}"
        fields["id"] = sha1(key.encode()).hexdigest()[:16]
        fields["path"] = path
        if a.project == before:
            fields["project"] = project
        fields["modified_at"] = modified
        fields["shared_with"] = []
        artifacts.append(trusted(Artifact, fields))
    findings: list[Finding] = []
    for f in made.parsed.findings:
        fields = dict(f.__dict__)
        fields["path"] = path
        if f.project == before:
            fields["project"] = project
        findings.append(trusted(Finding, fields))
    return Parsed(artifacts, findings)


def join(*parts: str) -> str:
    """Join path parts with ``/`` (the scanner works on absolute POSIX-style strings: cheaper
    than ``os.path.join`` or Path objects on its hot path)."""
    return "/".join((parts[0].rstrip("/") or "", *parts[1:]))
