"""`LedgerService`: the ledger's face for the CLI, the API and the pages.

Listing rows, importing hand-run sessions, re-pricing history from raw counts, summaries and
metrics (see `stagent.ledger.metrics`), a task's audit trail (`stagent.ledger.audit`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path

from stagent.domain.ids import utcnow
from stagent.ledger.importers import CLAUDE_CODE, CODEX, ImportReport, LogImporter, Plan
from stagent.ledger.prices import PriceTable
from stagent.ledger.recorder import UsageRecorder
from stagent.ledger.reprice import RepriceReport, reprice
from stagent.store import ledger as ledger_repo
from stagent.store.database import Store

IMPORT_SOURCES = {"claude-code": (CLAUDE_CODE,), "codex": (CODEX,), "all": (CLAUDE_CODE, CODEX)}


class LedgerService:
    """One workspace's ledger."""

    def __init__(
        self,
        store: Store,
        recorder: UsageRecorder,
        zone: Callable[[], tzinfo],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self.recorder = recorder
        self._zone = zone
        self.clock = clock

    @property
    def prices(self) -> PriceTable:
        """The price table in use (shipped, with the person's overrides)."""
        return self.recorder.prices

    @property
    def zone(self) -> tzinfo:
        """The time zone days and months are counted in."""
        return self._zone()

    @property
    def store(self) -> Store:
        """The store the ledger lives in."""
        return self._store

    def entries(
        self,
        where: ledger_repo.LedgerFilter,
        *,
        limit: int | None = 200,
        oldest_first: bool = False,
    ) -> list[ledger_repo.LedgerEntry]:
        """Ledger rows matching ``where``, newest first."""
        with self._store.read() as session:
            return ledger_repo.list_entries(session, where, limit=limit, oldest_first=oldest_first)

    # ---------------------------------------------------------------- imports

    def import_plans(self, which: str, path: Path | None = None) -> list[Plan]:
        """The files ``which`` (``claude-code``, ``codex`` or ``all``) would read."""
        importer = LogImporter(self._store, self.prices)
        return [importer.plan(source, path) for source in IMPORT_SOURCES[which]]

    def run_import(self, plan: Plan, progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import the files of ``plan``."""
        return LogImporter(self._store, self.prices).run(plan, progress)

    # ---------------------------------------------------------------- re-pricing

    def reprice(self, *, everything: bool = False) -> RepriceReport:
        """Recompute stored costs from raw token counts under the current price table.

        Rows already priced with this table's version are skipped unless ``everything``.
        """
        return reprice(self._store, self.prices, everything=everything)
