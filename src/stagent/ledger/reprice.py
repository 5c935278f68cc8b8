"""Re-pricing history: recompute stored costs from the raw token counts under the current table.

Only rows whose cost came from a price table (``computed`` or ``unpriced``) change; a cost the
runtime reported stays as reported. Each row is priced at its own date (prices are
effective-dated) with the modes it recorded (fast, regional, batch), and carries the new table
version afterwards. A model that was unpriced becomes priced as soon as the table (or the
person's override file) knows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stagent.domain.events import UsageEvent
from stagent.ledger.cost import cost_of
from stagent.ledger.prices import PriceTable
from stagent.store import ledger as ledger_repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerEntry


@dataclass
class RepriceReport:
    """What re-pricing changed."""

    version: str
    rows: int = 0
    changed: int = 0
    delta_micros: int = 0
    """New total minus old total, over the rows looked at."""
    newly_priced: int = 0
    still_unpriced: dict[str, int] = field(default_factory=lambda: {})

    def as_json(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "pricing_version": self.version,
            "rows": self.rows,
            "changed": self.changed,
            "delta_micros": self.delta_micros,
            "newly_priced": self.newly_priced,
            "still_unpriced": self.still_unpriced,
        }


def usage_of(entry: LedgerEntry) -> UsageEvent:
    """The raw counts (and recorded modes) of a stored row, as a `UsageEvent`."""
    raw = entry.raw or {}

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value if isinstance(value, str) and value else None

    return UsageEvent(
        model=entry.model or "",
        input_tokens=entry.input_tokens,
        output_tokens=entry.output_tokens,
        cache_write_tokens=entry.cache_write_5m_tokens + entry.cache_write_1h_tokens,
        cache_write_1h_tokens=entry.cache_write_1h_tokens,
        cache_read_tokens=entry.cache_read_tokens,
        reasoning_tokens=entry.reasoning_tokens,
        speed=text("speed"),
        inference_geo=text("inference_geo"),
        service_tier=text("service_tier"),
        estimated=text("estimated"),
    )


def reprice(store: Store, table: PriceTable, *, everything: bool = False) -> RepriceReport:
    """Recompute every price-table cost under ``table``."""
    report = RepriceReport(table.version)
    with store.write() as session:
        for batch in ledger_repo.priceable_batches(session, table.version, everything=everything):
            changes: list[dict[str, Any]] = []
            for entry in batch:
                cost = cost_of(
                    usage_of(entry), table, at=entry.finished_at, provider=entry.provider
                )
                report.rows += 1
                if cost.source == "unpriced":
                    model = entry.model or ""
                    report.still_unpriced[model] = report.still_unpriced.get(model, 0) + 1
                elif entry.cost_source == "unpriced":
                    report.newly_priced += 1
                if cost.micros != entry.cost_micros or cost.source != entry.cost_source:
                    report.changed += 1
                report.delta_micros += cost.micros - entry.cost_micros
                changes.append(
                    {
                        "id": entry.id,
                        "cost_micros": cost.micros,
                        "cost_source": cost.source,
                        "pricing_version": cost.pricing_version or table.version,
                        "note": cost.note,
                    }
                )
            ledger_repo.update_costs(session, changes)
    return report
