"""The price table's values: effective-dated per-model prices, matched by normalised model id.

Plain dataclasses with no YAML or pydantic: `stagent.ledger.prices` reads and validates the data
file into them, and `stagent.ledger.price_cache` keeps the result, so a command that prices a
few calls loads neither.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.yaml")

_PROVIDER_PREFIX = re.compile(r"^(?:[a-z0-9_-]+/)+")
_DATE_SUFFIX = re.compile(r"[-@]\d{8}$")
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")
_BEDROCK_PREFIX = re.compile(r"^(?:(?:us|eu|apac|global)\.)?anthropic\.")
_VERSION_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")


def normalize_model_id(model: str) -> str:
    """The key a model id is matched by.

    Lower case; a provider prefix (``anthropic/``, ``openai/``), a Bedrock prefix
    (``us.anthropic.`` ... ``-v1:0``), a ``[1m]`` context marker and a ``-YYYYMMDD`` or
    ``@YYYYMMDD`` snapshot date are dropped; dots read as dashes (``gpt-5.2`` = ``gpt-5-2``).
    Other suffixes stay: ``claude-opus-4-9`` does not match ``claude-opus-4``.
    """
    key = model.strip().lower()
    key = _CONTEXT_SUFFIX.sub("", key)
    key = _PROVIDER_PREFIX.sub("", key)
    key = _BEDROCK_PREFIX.sub("", key)
    key = _VERSION_SUFFIX.sub("", key)
    key = _DATE_SUFFIX.sub("", key)
    return key.replace(".", "-").replace("_", "-")


class CategoryPrices(NamedTuple):
    """USD per million tokens for each category; None where the model has no such price."""

    input: Decimal
    output: Decimal
    cache_write_5m: Decimal | None = None
    cache_write_1h: Decimal | None = None
    cache_read: Decimal | None = None


class PriceTier(NamedTuple):
    """Prices for a request whose prompt is longer than ``above`` tokens."""

    above: int
    prices: CategoryPrices


class PricePeriod(NamedTuple):
    """A model's prices from ``effective_from`` (None: as far back as the table knows)."""

    effective_from: date | None
    prices: CategoryPrices
    tiers: tuple[PriceTier, ...]
    source: str

    def for_prompt(self, prompt_tokens: int) -> tuple[CategoryPrices, int | None]:
        """The prices for a request of ``prompt_tokens`` and the tier threshold that applied."""
        chosen: PriceTier | None = None
        for tier in self.tiers:
            if prompt_tokens > tier.above and (chosen is None or tier.above > chosen.above):
                chosen = tier
        return (chosen.prices, chosen.above) if chosen else (self.prices, None)


class ModelPricing(NamedTuple):
    """One model (and its aliases) with its price history."""

    model: str
    provider: str
    aliases: tuple[str, ...]
    periods: tuple[PricePeriod, ...]
    note: str = ""
    multipliers: tuple[tuple[str, Decimal], ...] = ()
    """Whole-request multipliers by modifier (``fast``, ``regional``, ``batch``, ``flex``): the
    provider's defaults overridden by the model's own."""

    def multiplier(self, modifier: str) -> Decimal | None:
        """The multiplier for ``modifier`` (None: the model has no such mode)."""
        return dict(self.multipliers).get(modifier)

    def at(self, day: date) -> PricePeriod | None:
        """The period in effect on ``day`` (None if the first one starts later)."""
        current: PricePeriod | None = None
        for period in self.periods:
            if period.effective_from is None or period.effective_from <= day:
                current = period
        return current


class PriceMatch(NamedTuple):
    """The prices that apply to one model id at one moment."""

    pricing: ModelPricing
    period: PricePeriod
    version: str


class PriceTable:
    """Every model's prices, matched by normalised id."""

    def __init__(
        self,
        version: str,
        checked: date,
        models: list[ModelPricing],
        sources: dict[str, str],
        *,
        overrides: tuple[str, ...] = (),
        modifiers: dict[str, dict[str, Decimal]] | None = None,
    ) -> None:
        self.version = version
        self.modifiers = dict(modifiers or {})
        """Provider-wide multipliers (``{"openai": {"batch": Decimal("0.5")}}``)."""
        self.overrides = overrides
        """Model ids whose prices come from the user's override file."""
        self.checked = checked
        self.models = tuple(models)
        self.sources = dict(sources)
        self._index: dict[str, ModelPricing] = {}
        self._found: dict[tuple[str, date], PriceMatch | None] = {}
        for pricing in models:
            for name in (pricing.model, *pricing.aliases):
                self._index[normalize_model_id(name)] = pricing

    def lookup(self, model: str) -> ModelPricing | None:
        """The model's pricing by normalised id, or None."""
        return self._index.get(normalize_model_id(model))

    def find(self, model: str, when: datetime) -> PriceMatch | None:
        """The prices in effect for ``model`` at ``when`` (a UTC instant), or None (unpriced).

        Answers are remembered per (model, day): bulk imports ask the same question often.
        """
        key = (model, when.date())
        if key in self._found:
            return self._found[key]
        pricing = self.lookup(model)
        period = pricing.at(key[1]) if pricing is not None else None
        match = (
            PriceMatch(pricing=pricing, period=period, version=self.version)
            if pricing is not None and period is not None
            else None
        )
        if len(self._found) > 100_000:
            self._found.clear()
        self._found[key] = match
        return match
