"""Turning what a runtime reports into ledger rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime

from stagent.domain.events import UsageEvent
from stagent.domain.ids import utcnow
from stagent.domain.tasks import Task
from stagent.ledger.cost import SIMULATED_PROVIDER, Cost, TokenCounts, cost_of
from stagent.ledger.prices import PriceTable
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store.ledger import Session

log = logging.getLogger(__name__)


def _simulated_by_provider(runtime: str) -> bool:
    return RUNTIME_PROVIDERS.get(runtime) == SIMULATED_PROVIDER


RUNTIME_PROVIDERS: dict[str, str] = {
    "claude": "anthropic",
    "anthropic": "anthropic",
    "codex": "openai",
    "scripted": SIMULATED_PROVIDER,
}
"""Whose models a runtime calls, for rows whose model the price table does not know."""


class UsageRecorder:
    """Writes one ledger row per provider call (or per runtime result, where that is the finest
    grain a runtime reports), priced with ``prices``."""

    def __init__(
        self, prices: PriceTable, *, is_simulated: Callable[[str], bool] | None = None
    ) -> None:
        self.prices = prices
        self._is_simulated = is_simulated or _simulated_by_provider

    def is_simulated(self, runtime: str) -> bool:
        """True if ``runtime`` calls no model: its rows never count as spend."""
        return self._is_simulated(runtime)

    def price(self, runtime: str, usage: UsageEvent, at: datetime) -> Cost:
        """What ``usage`` cost and where the figure comes from."""
        return cost_of(usage, self.prices, at=at, provider=RUNTIME_PROVIDERS.get(runtime))

    def record(
        self,
        session: Session,
        task: Task,
        usage: UsageEvent,
        *,
        activity: str = "task_run",
        at: datetime | None = None,
        run_id: str | None = None,
    ) -> ledger_repo.LedgerEntry:
        """Add the row for ``usage`` by ``task``; an unpriced model is also noted in its log."""
        return self.book(session, task, usage, activity=activity, at=at, run_id=run_id)[0]

    def book(
        self,
        session: Session,
        task: Task,
        usage: UsageEvent,
        *,
        activity: str = "task_run",
        at: datetime | None = None,
        run_id: str | None = None,
    ) -> tuple[ledger_repo.LedgerEntry, bool]:
        """`record`, also saying whether the row is new: a call reported again (the same
        ``request_id``, as a recovered run reports it) keeps the row it has."""
        at = at or utcnow()
        cost = self.price(task.runtime, usage, at)
        tokens = TokenCounts.of(usage)
        raw = {key: value for key, value in asdict(usage).items() if key != "kind"}
        if usage.estimated is None:
            del raw["estimated"]
        if cost.computed_micros is not None:
            raw["computed_micros"] = cost.computed_micros
            raw["computed_with"] = self.prices.version
        if cost.fallbacks:
            raw["priced_at_input"] = list(cost.fallbacks)
        if cost.tier is not None:
            raw["tier_above"] = cost.tier
        entry, created = ledger_repo.insert_once(
            session,
            ledger_repo.NewLedgerEntry(
                runtime=task.runtime,
                task_id=task.id,
                run_id=run_id,
                project_id=task.project_id,
                activity=activity,
                provider=cost.provider,
                model=usage.model,
                input_tokens=tokens.input,
                output_tokens=tokens.output,
                cache_write_5m_tokens=tokens.cache_write_5m,
                cache_write_1h_tokens=tokens.cache_write_1h,
                cache_read_tokens=tokens.cache_read,
                reasoning_tokens=tokens.reasoning,
                cost_micros=cost.micros,
                cost_source=cost.source,
                pricing_version=cost.pricing_version,
                note=cost.note,
                raw=raw,
                at=at,
                source="run",
                dedupe_key=f"request:{usage.request_id}" if usage.request_id else None,
                simulated=self.is_simulated(task.runtime),
                session_id=task.session_id,
            ),
        )
        if not created:
            return entry, False  # the call was booked before (a recovered run reported it again)
        if cost.source == "unpriced":
            log.warning("task %s: %s", task.id, cost.note)
            event_repo.append(
                session,
                task.id,
                "note",
                {"message": cost.note, "ledger_id": entry.id, "unpriced_model": usage.model},
                run_id=run_id,
            )
        return entry, True
