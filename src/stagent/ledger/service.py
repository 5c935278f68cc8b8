"""`LedgerService`: the ledger's face for the CLI, the API and the pages.

Listing rows, importing hand-run sessions, re-pricing history from raw counts, summaries and
metrics (see `stagent.ledger.metrics`), a task's audit trail (`stagent.ledger.audit`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, TextIO

from stagent.domain.errors import ValidationError
from stagent.domain.ids import utcnow
from stagent.ledger.audit import audit, write_csv
from stagent.ledger.home import status_cards
from stagent.ledger.importers import IMPORT_SOURCES, ImportReport, LogImporter, Plan
from stagent.ledger.metrics import cap_forecasts
from stagent.ledger.monitor import agents_now, overview
from stagent.ledger.prices import PriceTable
from stagent.ledger.recorder import UsageRecorder
from stagent.ledger.reports import SUMMARY_GROUPS, Scope, daily, dashboard, summary
from stagent.ledger.reprice import RepriceReport, reprice
from stagent.ledger.window import Window, chosen_range, last_days
from stagent.store import ledger as ledger_repo
from stagent.store.activity import task_labels
from stagent.store.database import Store
from stagent.store.ledger_imports import StoreImports


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

    def instant(self, text: str | None, field: str, *, end: bool = False) -> datetime | None:
        """A day (``YYYY-MM-DD``, in the person's zone) or ISO date-time as an instant; with
        ``end``, a day means the instant after it ends (so ``--until`` includes the day)."""
        if text is None or not text.strip():
            return None
        value = text.strip()
        try:
            if len(value) == 10:
                day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
                moment = datetime.combine(day, time(), self.zone)
            else:
                moment = datetime.fromisoformat(value)
                moment = moment if moment.tzinfo else moment.replace(tzinfo=self.zone)
            moment.astimezone(UTC)  # the store compares in UTC: year 1 or 9999 may not fit
        except ValueError:
            raise ValidationError(
                f"{field}: {text!r} is not a date", hint="write it like 2026-11-30"
            ) from None
        except OverflowError:
            raise ValidationError(
                f"{field}: {text!r} is out of range", hint="write a day like 2026-11-30"
            ) from None
        return moment

    def window(
        self,
        days: int,
        since: str | None = None,
        until: str | None = None,
        *,
        names: tuple[str, str] = ("since", "until"),
    ) -> Window:
        """The days a dashboard covers: the last ``days`` days, or the range ``since`` to
        ``until`` (read like `instant`, ``until`` including its day) if either is given;
        ``names`` are the two fields as the person sees them, for the error of a bad range."""
        today = self.clock().astimezone(self.zone).date()
        start = self.instant(since, names[0])
        end = self.instant(until, names[1], end=True)
        if start is None and end is None:
            return last_days(days, today, self.zone)
        return chosen_range(start, end, days=days, today=today, zone=self.zone, names=names)

    def entries(
        self,
        where: ledger_repo.LedgerFilter,
        *,
        limit: int | None = 200,
        oldest_first: bool = False,
        holds: bool = True,
    ) -> list[ledger_repo.LedgerEntry]:
        """Ledger rows matching ``where``, newest first (without ``holds``: no budget holds)."""
        with self._store.read() as session:
            return ledger_repo.list_entries(
                session, where, limit=limit, oldest_first=oldest_first, holds=holds
            )

    # ---------------------------------------------------------------- imports

    def import_plans(self, which: str, path: Path | None = None) -> list[Plan]:
        """The files ``which`` (``claude-code``, ``codex`` or ``all``) would read."""
        importer = LogImporter(StoreImports(self._store), self.prices)
        return [importer.plan(source, path) for source in IMPORT_SOURCES[which]]

    def run_import(self, plan: Plan, progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import the files of ``plan``."""
        return LogImporter(StoreImports(self._store), self.prices).run(plan, progress)

    # ---------------------------------------------------------------- re-pricing

    def reprice(self, *, everything: bool = False) -> RepriceReport:
        """Recompute stored costs from raw token counts under the current price table.

        Rows already priced with this table's version are skipped unless ``everything``.
        """
        return reprice(self._store, self.prices, everything=everything)

    # ---------------------------------------------------------------- reports

    def summary(self, scope: Scope, by: str | None = None) -> dict[str, Any]:
        """Totals (requests, tokens, cost) of ``scope``, grouped ``by`` day, model, runtime,
        project or source."""
        if by is not None and by not in SUMMARY_GROUPS:
            raise ValidationError(
                f"by: {by!r} is not a grouping", hint=f"one of {', '.join(SUMMARY_GROUPS)}"
            )
        data = summary(self._store, scope, by, self.zone)
        data["pricing_version"] = self.prices.version
        data["timezone"] = zone_label(self.zone)
        return data

    def dashboard(
        self, scope: Scope, *, days: int = 30, window: Window | None = None
    ) -> dict[str, Any]:
        """Everything the Costs page shows over ``window`` (default: the last ``days`` days;
        see `stagent.ledger.reports.dashboard`)."""
        window = window or self.window(days)
        data = dashboard(self._store, scope, self.clock(), self.zone, window)
        data["pricing_version"] = self.prices.version
        data["pricing_checked"] = self.prices.checked.isoformat()
        data["timezone"] = zone_label(self.zone)
        return data

    def daily(self, days: int = 7) -> dict[str, Any]:
        """Spend of the last ``days`` days: ``totals`` and ``daily`` as `dashboard` has them,
        without the rest of its work (Home's spend card)."""
        return daily(self._store, Scope(), self.zone, self.window(days))

    def cap_forecasts(self, budgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Month-end forecasts against each monthly cap of ``budgets`` (budget scopes as JSON,
        see `stagent.ledger.metrics.cap_forecasts`)."""
        return cap_forecasts(budgets, self.clock(), self.zone)

    def monitor(self) -> dict[str, Any]:
        """Agents running now, success rates and 24-hour activity (the Monitor page)."""
        return overview(self._store, self.clock(), self.zone, self.recorder.is_simulated)

    def active_agents(self) -> list[dict[str, Any]]:
        """Agents active now with their spend so far (the Monitor's live table)."""
        return agents_now(self._store, self.clock(), self.recorder.is_simulated)

    def home(self, waiting_now: int) -> dict[str, Any]:
        """Home's five status cards with seven-day sparklines (see `stagent.ledger.home`);
        ``waiting_now`` is the Inbox badge's count."""
        return status_cards(self._store, self.clock(), self.zone, waiting_now)

    def task_labels(self, task_ids: list[str]) -> dict[str, tuple[str, str]]:
        """(title, runtime) of tasks by id, deleted ones included (for log lines)."""
        with self._store.read() as session:
            return task_labels(session, task_ids)

    def audit(self, task_id: str) -> dict[str, Any]:
        """A task's provider calls interleaved with its tool requests and decisions."""
        return audit(self._store, task_id)

    def export_csv(self, where: ledger_repo.LedgerFilter, out: TextIO) -> int:
        """Write matching rows (oldest first) as CSV to ``out``; returns how many."""
        with self._store.read() as session:
            entries = ledger_repo.list_entries(session, where, limit=None, oldest_first=True)
        return write_csv(entries, out)


def zone_label(zone: tzinfo) -> str:
    """A time zone's name (``Europe/Berlin``), else its abbreviation."""
    return str(getattr(zone, "key", None) or zone.tzname(None) or zone)
