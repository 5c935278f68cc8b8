"""Ledger rows as JSON-ready data (the CLI and the API show the same shape)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stagent.ledger.money import usd_text
from stagent.ledger.prices import CategoryPrices, ModelPricing, PricePeriod, PriceTable
from stagent.store.ledger import LedgerEntry

CATEGORIES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def decimal_text(value: Decimal | None) -> str | None:
    """A price as exact decimal text (``"3.75"``), None where there is none."""
    return None if value is None else format(value.normalize(), "f")


def prices_json(prices: CategoryPrices) -> dict[str, str | None]:
    """One set of per-category prices (USD per MTok)."""
    return {name: decimal_text(getattr(prices, name)) for name in CATEGORIES}


def period_json(period: PricePeriod) -> dict[str, Any]:
    """One effective-dated period with its long-context tiers."""
    return {
        "from": period.effective_from.isoformat() if period.effective_from else None,
        "prices": prices_json(period.prices),
        "tiers": [
            {"above_prompt_tokens": tier.above, "prices": prices_json(tier.prices)}
            for tier in period.tiers
        ],
        "source": period.source,
    }


def model_json(table: PriceTable, pricing: ModelPricing) -> dict[str, Any]:
    """A model's aliases, multipliers and price history."""
    return {
        "model": pricing.model,
        "provider": pricing.provider,
        "aliases": list(pricing.aliases),
        "multipliers": {name: decimal_text(value) for name, value in pricing.multipliers},
        "note": pricing.note or None,
        "overridden": pricing.model in table.overrides,
        "periods": [period_json(period) for period in pricing.periods],
    }


def table_json(table: PriceTable) -> dict[str, Any]:
    """The whole price table."""
    return {
        "version": table.version,
        "checked": table.checked.isoformat(),
        "models": [model_json(table, m) for m in table.models],
    }


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """One ledger row: raw tokens by category, cost in micro-USD (and USD text; null when the
    model is unpriced: its cost is unknown, not zero), provenance, source and attribution."""
    return {
        "id": entry.id,
        "task_id": entry.task_id,
        "project_id": entry.project_id,
        "activity": entry.activity,
        "runtime": entry.runtime,
        "provider": entry.provider,
        "model": entry.model,
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "cache_write_5m_tokens": entry.cache_write_5m_tokens,
        "cache_write_1h_tokens": entry.cache_write_1h_tokens,
        "cache_read_tokens": entry.cache_read_tokens,
        "reasoning_tokens": entry.reasoning_tokens,
        "cost_micros": entry.cost_micros,
        "cost_usd": None if entry.cost_source == "unpriced" else usd_text(entry.cost_micros),
        "unpriced": entry.cost_source == "unpriced",
        "cost_source": entry.cost_source,
        "pricing_version": entry.pricing_version,
        "status": entry.status,
        "note": entry.note,
        "started_at": entry.started_at.isoformat(),
        "finished_at": entry.finished_at.isoformat(),
        "source": entry.source,
        "simulated": entry.simulated,
        "session_id": entry.session_id,
        "project_path": entry.project_path,
        "total_tokens": entry.total_tokens,
    }
