"""Ledger rows as JSON-ready data (the CLI and the API show the same shape)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any

from stagent.domain.errors import NotFoundError
from stagent.domain.ledger import INTERNAL_FIELDS, LedgerEntry
from stagent.ledger.money import usd_text
from stagent.ledger.prices import CategoryPrices, ModelPricing, PricePeriod, PriceTable

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


def priced_model_json(table: PriceTable, model: str) -> dict[str, Any]:
    """``model`` (an id or alias) as ``stagent pricing show`` and ``GET /api/v1/pricing/{model}``
    show it: the table's version, then `model_json`; `NotFoundError` if it is unpriced."""
    pricing = table.lookup(model)
    if pricing is None:
        raise NotFoundError(
            f"model {model!r} is not in price table {table.version}: its calls are unpriced",
            hint="add it to $STAGENT_HOME/prices.yaml (see `stagent pricing list`)",
        )
    return {"version": table.version, **model_json(table, pricing)}


def table_json(table: PriceTable) -> dict[str, Any]:
    """The whole price table."""
    return {
        "version": table.version,
        "checked": table.checked.isoformat(),
        "models": [model_json(table, m) for m in table.models],
    }


SHOWN = tuple(
    field.name for field in dataclasses.fields(LedgerEntry) if field.name not in INTERNAL_FIELDS
)
"""The row's fields the JSON shows, in `LedgerEntry`'s order."""


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """One ledger row: its fields (`SHOWN`; times as ISO text) with the cost also as USD text
    (null when the model is unpriced: its cost is unknown, not zero) and ``unpriced`` after
    ``cost_micros``, and ``total_tokens`` last."""
    data: dict[str, Any] = {}
    for name in SHOWN:
        value = getattr(entry, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
        if name == "cost_micros":
            unpriced = entry.cost_source == "unpriced"
            data["cost_usd"] = None if unpriced else usd_text(entry.cost_micros)
            data["unpriced"] = unpriced
    data["total_tokens"] = entry.total_tokens
    return data
