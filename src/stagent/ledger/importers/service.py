"""Importing hand-run Claude Code and Codex sessions into the ledger, incrementally.

`LogImporter.run` finds the files, reads each from where the last import stopped, turns lines
into calls, keeps one copy of each call, prices it from its tokens and books it with its source,
session and working directory (attributed to the project whose directory contains it). A
malformed line is counted and reported with its file and line number; it never stops the import.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias, cast

from stagent.collector import collector_paused
from stagent.ledger.importers import discovery, pieces
from stagent.ledger.importers.calls import (
    CLAUDE_CODE,
    CODEX,
    RUNTIME_OF_SOURCE,
    TIERS,
    CallCopy,
    ImportedCall,
)
from stagent.ledger.importers.reader import HEAD_BYTES, head_of, resume_point
from stagent.store import sqlite_imports as repo

if TYPE_CHECKING:  # the parsers (msgspec) load when a file has something new to read, the
    # price table (YAML, pydantic) when the first call is priced
    from stagent.ledger.cost import RateCard
    from stagent.ledger.importers.claude_code import ClaudeCopy
    from stagent.ledger.importers.codex import RolloutState
    from stagent.ledger.prices import PriceTable

Progress = Callable[[int], None]
"""Called with the number of bytes just read."""

BATCH_CALLS = 2_000
"""Calls booked per transaction (peak memory follows it: at 128 MiB of logs 2k calls peak at
~88 MiB against ~96 MiB with 5k, for 1-3 % more CPU; 1k cost ~10 % more CPU for 3 MiB)."""
_Card: TypeAlias = "tuple[RateCard, str] | None"
"""A model's rate card on one day in one mode, and its provider (None: not in the table)."""
_CardKey: TypeAlias = "tuple[str, date, str | None, str | None, str | None]"
"""What a rate card is looked up by: model, day, speed, inference geo, service tier."""
_UNSEEN: Any = object()
"""A rate card not looked up yet (None is a looked-up model the table does not know)."""
_MODEL = repo.IMPORT_COLUMNS.index("model")
FULL_HEAD = f"{HEAD_BYTES}:"
"""How a stored head taken from a whole `HEAD_BYTES` starts (one from a shorter file is taken
again once the file has grown)."""
MAX_EXAMPLES = pieces.MAX_EXAMPLES
"""Malformed lines listed by file:line in a report (all are counted)."""


class ImportReport:
    """What one import did, per source: counted as it goes (a plain class, not a dataclass:
    an import's modules then load no `dataclasses`, whose `inspect` was ~5 ms of a re-run's
    start-up)."""

    __slots__ = (
        "source", "files", "files_read", "bytes_read", "lines_read", "added", "replaced",
        "duplicates", "malformed", "malformed_examples", "restarted", "skipped", "unpriced",
    )  # fmt: skip

    def __init__(self, source: str, *, files: int = 0, skipped: list[str] | None = None) -> None:
        """An empty report of ``source``: ``files`` found, ``skipped`` (not read, why)."""
        self.source = source
        self.files = files
        self.files_read = self.bytes_read = self.lines_read = 0
        self.added = self.replaced = self.duplicates = self.malformed = 0
        self.malformed_examples: list[str] = []
        self.restarted: list[str] = []
        """Files read again from the start (``path (truncated)``, ``path (replaced)``)."""
        self.skipped: list[str] = skipped if skipped is not None else []
        """Files not read, with the reason."""
        self.unpriced: dict[str, int] = {}
        """Calls of models the price table does not know, by model."""

    def __repr__(self) -> str:
        return f"ImportReport({self.as_json()!r})"

    def as_json(self) -> dict[str, object]:
        """JSON-ready data."""
        return {
            "source": self.source,
            "files": self.files,
            "files_read": self.files_read,
            "bytes_read": self.bytes_read,
            "lines_read": self.lines_read,
            "calls_added": self.added,
            "calls_replaced": self.replaced,
            "duplicates_skipped": self.duplicates,
            "malformed_lines": self.malformed,
            "malformed_examples": self.malformed_examples,
            "restarted": self.restarted,
            "skipped": self.skipped,
            "unpriced_models": self.unpriced,
        }


class Plan(NamedTuple):
    """The files of one source and how many bytes are new."""

    source: str
    files: list[str]
    """The files' paths (`str`: a `Path` each cost more than reading a re-run's new lines)."""
    skipped: list[str]
    pending_bytes: int
    tier: str | None = None


class ImportDatabase(Protocol):
    """Where an import reads read positions and projects and books calls:
    `stagent.store.ledger_imports.StoreImports` (a workspace's `Store`) or
    `stagent.store.sqlite_imports.SqliteImports` (a plain ``sqlite3`` connection)."""

    def file_states(self, source: str) -> dict[str, repo.FileState]:
        """Every stored read position of ``source``, by path."""
        ...

    def project_directories(self) -> list[tuple[str, str]]:
        """(project id, working directory) of every project that has one."""
        ...

    def render(self, row: repo.ImportedRow) -> repo.ImportedRow:
        """``row`` as `book` takes it (done where the row is made: maybe the reading process)."""
        ...

    def book(
        self, rows: list[repo.ImportedRow], states: list[repo.FileState], *, last: bool = True
    ) -> repo.Booked:
        """Book ``rows`` (`render`-ed) and move the files' read positions, in one transaction
        (which may stay open for the next batches unless ``last``: the import's final batch
        commits whatever is held)."""
        ...


class LogImporter:
    """Reads Claude Code transcripts and Codex rollouts into the ledger (this module imports
    no SQLAlchemy: ``stagent ledger import`` may run it on a plain ``sqlite3`` connection)."""

    def __init__(
        self,
        db: ImportDatabase,
        prices: PriceTable | Callable[[], PriceTable],
        *,
        parallel: bool = False,
    ) -> None:
        """``prices``: the table, or what loads it when the first call is priced (an import
        with nothing new then loads no table). ``parallel``: a large import may fork a second
        process to read with (`pieces.results_in_order`; only from a process whose other
        threads, if any, the forked one never needs: the CLI's)."""
        self._db = db
        self._prices = prices
        self.parallel = parallel
        self._cards: dict[_CardKey, _Card] = {}

    @property
    def prices(self) -> PriceTable:
        """The price table calls are priced with (loaded now if it was given as a loader)."""
        prices = self._prices
        if callable(prices):
            prices = self._prices = prices()
        return prices

    def plan(self, source: str, path: Path | None = None) -> Plan:
        """Find the files of ``source`` (under ``path``, else the tool's default location)."""
        if source == CLAUDE_CODE:
            roots = [path] if path else discovery.claude_code_roots()
            return self._pending(Plan(source, discovery.claude_code_files(roots), [], 0))
        root = path or discovery.codex_root()
        files, packed = discovery.codex_files(root)
        imported = discovery.codex_imported_sessions(root)
        kept = [f for f in files if not discovery.codex_skip_file(f, imported)]
        skipped = [f"{f} (compressed .zst: not read)" for f in packed]
        skipped += [f"{f} (imported by Codex from Claude Code)" for f in files if f not in kept]
        tier = discovery.codex_priority_tier(root)
        return self._pending(Plan(source, [str(f) for f in kept], skipped, 0, tier))

    def _pending(self, plan: Plan) -> Plan:
        states = self._db.file_states(plan.source)
        pending = 0
        for path in plan.files:
            size = os.stat(path).st_size
            state = states.get(path)
            pending += size - state.offset if state and state.offset <= size else size
        return Plan(plan.source, plan.files, plan.skipped, pending, plan.tier)

    def run(self, plan: Plan, progress: Progress | None = None) -> ImportReport:
        """Import every file of ``plan``; returns what happened."""
        report = ImportReport(plan.source, files=len(plan.files), skipped=list(plan.skipped))
        projects = _Projects(
            sorted(
                ((pid, _norm(d)) for pid, d in self._db.project_directories()),
                key=lambda item: -len(item[1]),
            )
        )
        states = self._db.file_states(plan.source)
        batch = _Batch(self, plan.source, report)
        files = [
            _FileImport(plan, number, path, states.get(path))
            for number, path in enumerate(plan.files)
        ]
        with collector_paused():
            todo = [piece for file in files for piece in file.start(report)]
            how = self._how(plan, todo)
            source, copy_row, render = plan.source, self.copy_row, self._db.render

            def read(piece: pieces.Piece) -> pieces.PieceResult:
                parse = files[piece.file].parser()
                return pieces.read_piece(
                    piece, parse, lambda c: render(copy_row(source, c, projects))
                )

            if how == "halves":
                found = pieces.results_in_halves(todo, read)
            else:
                found = pieces.results_in_order(todo, read, parallel=how == "pool")
            try:
                for piece, result in found:
                    file = files[piece.file]
                    batch.add(result)
                    batch.moved(file.merged(result, report))
                    if progress and result.bytes_read:
                        progress(result.bytes_read)
            finally:  # a second process still reading is ended now, not when collected
                found.close()
            batch.flush()
        return report

    def _how(self, plan: Plan, todo: list[pieces.Piece]) -> str:
        """How to read: ``alone``; ``pool``, a second process fed pieces as it goes (a large
        Claude Code import, `pieces.PARALLEL_BYTES`); ``halves``, a second process reading the
        later half (a mid-size one, `pieces.HALVES_BYTES`). Only from a process that asked for
        it, on a machine with a core to spare; the price table and the parser are loaded
        first, so the forked process has them."""
        if not self.parallel or plan.source != CLAUDE_CODE or len(todo) < 2:
            return "alone"
        if plan.pending_bytes >= pieces.PARALLEL_BYTES and pieces.can_fork():
            how = "pool"
        elif plan.pending_bytes >= pieces.HALVES_BYTES and pieces.can_halve():
            how = "halves"
        else:
            return "alone"
        from importlib import import_module

        modules = ["stagent.ledger.cost", "stagent.ledger.importers.claude_code"]
        if how == "pool":  # rows render faster through orjson (`sqlite_imports.render_row`)
            modules.append("orjson")
        for module in modules:
            import_module(module)
        _ = self.prices  # loaded before the fork
        return how

    def row(self, source: str, call: ImportedCall, project_id: str | None) -> repo.ImportedRow:
        """The ledger row of one imported call (`repo.IMPORT_COLUMNS`), priced from its
        tokens (`cost_of`'s figures, with the lookups remembered per model, day and mode)."""
        from stagent.ledger.cost import computed_note, cost_of

        usage = call.usage
        one_hour = min(usage.cache_write_1h_tokens, usage.cache_write_tokens)
        key = (usage.model, call.at.date(), usage.speed, usage.inference_geo, usage.service_tier)
        card = self._card(key, call.at) if usage.cost_usd is None else None
        if card is None:
            cost = cost_of(usage, self.prices, at=call.at)
            micros, cost_source, provider = cost.micros, cost.source, cost.provider
            version, note, tier = cost.pricing_version, cost.note, cost.tier
        else:
            computed = card[0].compute(
                usage.input_tokens, usage.output_tokens, usage.cache_write_tokens - one_hour,
                one_hour, usage.cache_read_tokens,
            )  # fmt: skip
            micros, cost_source, provider = computed.micros, "computed", card[1]
            version, tier = computed.version, computed.tier
            note = computed_note(computed) if computed.fallbacks or computed.ignored else None
        raw: dict[str, object] = {"model": usage.model}
        if usage.speed is not None:
            raw["speed"] = usage.speed
        if usage.inference_geo is not None:
            raw["inference_geo"] = usage.inference_geo
        if usage.service_tier is not None:
            raw["service_tier"] = usage.service_tier
        if usage.request_id is not None:
            raw["request_id"] = usage.request_id
        if tier is not None:
            raw["tier_above"] = tier
        note = note or None
        if call.notes:
            note = "; ".join(n for n in (note, *call.notes) if n) or None
        return (
            project_id, RUNTIME_OF_SOURCE[source], provider, usage.model,
            usage.input_tokens, usage.output_tokens, usage.cache_write_tokens - one_hour,
            one_hour, usage.cache_read_tokens, usage.reasoning_tokens, micros, cost_source,
            version, note, source, call.dedupe_key, call.session_id, call.cwd, raw, call.at,
        )  # fmt: skip

    def copy_row(
        self, source: str, copy: CallCopy, project: Callable[[str | None], str | None]
    ) -> repo.ImportedRow:
        """`row` of the call ``copy`` records (``project`` gives the project of its working
        directory). A priced Claude Code copy goes straight from its
        decoded line to the row (no `UsageEvent`, `ImportedCall` or `Computed` per call: ~a
        fifth of an import's Python); anything else through `row`, the reference."""
        if type(copy) is ImportedCall:  # Codex's calls (any importer's but Claude Code's)
            return self.row(source, copy, project(copy.cwd))
        copy = cast("ClaudeCopy", copy)
        cwd = copy.line.cwd or None
        project_id = project(cwd)
        usage, line, at, model = copy.usage, copy.line, copy.at, copy.model
        speed, geo = usage.speed or None, usage.inference_geo or None
        tier_name = usage.service_tier if usage.service_tier in TIERS else None
        key = (model, at.date(), speed, geo, tier_name)
        card = self._cards.get(key, _UNSEEN)
        if card is _UNSEEN:
            card = self._card(key, at)
        if card is None:
            return self.row(source, copy.call(), project_id)
        rates, provider = card
        written = copy.written
        one_hour = min(copy.one_hour, written)
        inputs, outputs, read = (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
        )
        _num, _den, micros, tier, fallbacks = rates.price(
            inputs, outputs, written - one_hour, one_hour, read
        )
        raw: dict[str, object] = {"model": model}
        if speed is not None:
            raw["speed"] = speed
        if geo is not None:
            raw["inference_geo"] = geo
        if tier_name is not None:
            raw["service_tier"] = tier_name
        if line.request_id:
            raw["request_id"] = line.request_id
        if tier is not None:
            raw["tier_above"] = tier
        note = None
        if fallbacks or rates.ignored:
            from stagent.ledger.cost import note_of

            note = note_of(fallbacks, rates.ignored)
        return (
            project_id, RUNTIME_OF_SOURCE[source], provider, model, inputs, outputs,
            written - one_hour, one_hour, read, 0, micros, "computed", rates.version, note,
            source, copy.dedupe_key, line.session_id or None, cwd, raw, at,
        )  # fmt: skip

    def _card(self, key: _CardKey, at: datetime) -> _Card:
        """The rate card (and provider) for a call at ``at`` of ``key``'s model, day and
        modes (speed, inference geo, service tier); None: unpriced."""
        try:
            return self._cards[key]
        except KeyError:
            pass
        from stagent.ledger.cost import RateCard, find_for_call

        model, _day, speed, geo, tier = key
        match, modifiers = find_for_call(self.prices, model, at, speed, geo, tier)
        card = None if match is None else (RateCard.of(match, modifiers), match.pricing.provider)
        self._cards[key] = card
        return card

    def book(
        self, rows: list[repo.ImportedRow], states: list[repo.FileState], *, last: bool = True
    ) -> repo.Booked:
        """Book ``rows`` (rendered by the database's `ImportDatabase.render`) and move the
        files' read positions, in one transaction (`ImportDatabase.book`)."""
        return self._db.book(rows, states, last=last)


class _Batch:
    """Calls read but not yet booked, across files: one transaction per `BATCH_CALLS` calls
    (not per file: a commit costs more than a small file's rows), with the read positions of
    the files they came from. One copy of each call is kept, the better one (the larger rank;
    the earlier on a tie), as ``dedupe key -> (rank, row)``."""

    def __init__(self, importer: LogImporter, source: str, report: ImportReport) -> None:
        self.importer, self.source, self.report = importer, source, report
        self.calls: dict[str, tuple[pieces.Rank, repo.ImportedRow]] = {}
        self.states: dict[str, repo.FileState] = {}

    def add(self, result: pieces.PieceResult) -> None:
        """Take a piece's calls: a call already held keeps its better copy."""
        calls = self.calls
        duplicates = result.duplicates
        for key, rank, row in result.rows:
            kept = calls.get(key)
            if kept is None:
                calls[key] = (rank, row)
                continue
            duplicates += 1
            if rank > kept[0]:
                calls[key] = (rank, row)
        self.report.duplicates += duplicates

    def moved(self, state: repo.FileState) -> None:
        """A file was read up to ``state``; flush when the batch is full."""
        self.states[state.path] = state
        if len(self.calls) >= BATCH_CALLS:
            self.flush(last=False)

    def flush(self, *, last: bool = True) -> None:
        """Book the calls and the read positions (``last``: the import's final batch, which
        commits what the database held of the earlier ones)."""
        if not self.calls and not self.states and not last:
            return
        unpriced = self.report.unpriced
        rows = [row for _rank, row in self.calls.values()]
        for row in rows:
            if row[repo.COST_SOURCE] == "unpriced":
                model = row[_MODEL]
                unpriced[model] = unpriced.get(model, 0) + 1
        # in time order: the indexes that lead with the time then grow at one end
        rows.sort(key=_at)
        booked = self.importer.book(rows, list(self.states.values()), last=last)
        self.report.added += booked.added
        self.report.replaced += booked.replaced
        self.report.duplicates += booked.duplicates
        self.calls = {}
        self.states = {}


class _Projects:
    """The project whose directory holds a working directory (the longest match), remembered
    per directory."""

    def __init__(self, projects: list[tuple[str, str]]) -> None:
        self.projects = projects
        self._project_of: dict[str | None, str | None] = {None: None, "": None}

    def __call__(self, cwd: str | None) -> str | None:
        try:
            return self._project_of[cwd]
        except KeyError:
            pass
        assert cwd is not None
        where = _norm(cwd)
        found = None
        for project_id, directory in self.projects:
            if where == directory or where.startswith(directory.rstrip(os.sep) + os.sep):
                found = project_id
                break
        self._project_of[cwd] = found
        return found


class _FileImport:
    """Reading one file from its stored position: its pieces, and what they found."""

    def __init__(self, plan: Plan, number: int, path: str, stored: repo.FileState | None) -> None:
        self.plan, self.number, self.path, self.stored = plan, number, path, stored
        self.head = ""
        self.offset = self.lines = 0
        self.state: RolloutState | None = None

    def start(self, report: ImportReport) -> list[pieces.Piece]:
        """Where reading starts (a file read again is noted); its pieces (none: nothing new)."""
        path, stored = self.path, self.stored
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            report.skipped.append(f"{path} ({exc.strerror})")
            return []
        resume = resume_point(
            path, size, stored.offset if stored else 0, stored.lines if stored else 0,
            stored.head if stored else "",
        )  # fmt: skip
        if resume.restarted:
            report.restarted.append(f"{path} ({resume.restarted})")
        if resume.offset == size and not resume.restarted:
            return []
        if self.plan.source == CODEX:  # state carried across a Codex file (Claude Code: none)
            from stagent.ledger.importers.codex import RolloutState

            self.state = RolloutState(
                stored.state if stored and not resume.restarted else None, self.plan.tier
            )
        report.files_read += 1
        if stored and resume.offset and stored.head.startswith(FULL_HEAD):
            self.head = stored.head  # `resume_point` just found the file starting with it
        else:
            self.head = head_of(path)
        self.offset, self.lines = resume.offset, resume.lines
        return pieces.pieces_of(self.number, path, resume.offset, size)

    def parser(self) -> Callable[[bytes], CallCopy | None]:
        """What turns one line of this file into a copy of a call (or None)."""
        if self.plan.source != CODEX:
            from stagent.ledger.importers.claude_code import parse_line

            return parse_line
        fallback, state = Path(self.path).stem, self.state
        assert state is not None
        return lambda line: state.parse_line(line, fallback)

    def merged(self, result: pieces.PieceResult, report: ImportReport) -> repo.FileState:
        """Count a piece's lines (listing its malformed ones by file:line); the read position
        after it."""
        examples = report.malformed_examples
        for line, why in result.examples:
            if len(examples) < MAX_EXAMPLES:
                examples.append(f"{self.path}:{self.lines + line}: {why}")
        report.malformed += result.malformed
        report.bytes_read += result.bytes_read
        report.lines_read += result.lines
        if result.lines:
            self.offset, self.lines = result.stop, self.lines + result.lines
        state = self.state
        source = self.plan.source
        return repo.FileState(
            self.path, source, self.offset, self.head, self.lines,
            state.dump() if source == CODEX and state is not None else {},
        )  # fmt: skip


_at = itemgetter(-1)
"""A row's time: a datetime, or its text (`sqlite_imports.render_row`): both sort by time
(an itemgetter: no Python call per row of a sort)."""


def _norm(path: str) -> str:
    return os.path.normpath(Path(path).expanduser())
