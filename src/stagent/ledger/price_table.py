"""The price table's values: effective-dated per-model prices, matched by normalised model id.

Plain dataclasses with no YAML or pydantic: `stagent.ledger.prices` reads and validates the data
file into them, and `stagent.ledger.price_cache` keeps the result, so a command that prices a
few calls loads neither.
"""

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.yaml")

MODEL_ID_PATTERNS = (
    r"\[[^\]]*\]$",  # a context marker: [1m]
    r"^(?:[a-z0-9_-]+/)+",  # provider prefixes: anthropic/
    r"^(?:(?:us|eu|apac|global)\.)?anthropic\.",  # a Bedrock prefix
    r"-v\d+(?::\d+)?$",  # a Bedrock version: -v1:0
    r"[-@]\d{8}$",  # a snapshot date: -20250929, @20250929
)
"""What `normalize_model_id` drops, in order, as regular expressions (the reference: the
function cuts the same with string methods, no compile; a test holds them equal)."""
_SEGMENT = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_BEDROCK = ("anthropic.", "us.anthropic.", "eu.anthropic.", "apac.anthropic.", "global.anthropic.")


def normalize_model_id(model: str) -> str:
    """The key a model id is matched by.

    Lower case; a provider prefix (``anthropic/``, ``openai/``), a Bedrock prefix
    (``us.anthropic.`` ... ``-v1:0``), a ``[1m]`` context marker and a ``-YYYYMMDD`` or
    ``@YYYYMMDD`` snapshot date are dropped; dots read as dashes (``gpt-5.2`` = ``gpt-5-2``).
    Other suffixes stay: ``claude-opus-4-9`` does not match ``claude-opus-4``.
    `MODEL_ID_PATTERNS` cut by string methods: compiling the five patterns was most of this
    module's import, paid by every ``ledger import`` that prices a call.
    """
    key = model.strip().lower()
    if "\n" in key:  # a pattern's `$` also matches before a last newline: let them cut
        key = _by_patterns(key)
    else:
        key = _cut_date(_cut_version(_cut_bedrock(_cut_providers(_cut_context(key)))))
    return key.replace(".", "-").replace("_", "-")


def _by_patterns(key: str) -> str:
    import re

    for pattern in MODEL_ID_PATTERNS:
        key = re.sub(pattern, "", key)
    return key


def _cut_context(key: str) -> str:
    if not key.endswith("]"):
        return key
    last = len(key) - 1  # the first "[" after any other "]" opens the marker
    start = key.find("[", key.rfind("]", 0, last) + 1, last)
    return key if start < 0 else key[:start]


def _cut_providers(key: str) -> str:
    start = 0
    while (slash := key.find("/", start)) > start and _SEGMENT.issuperset(key[start:slash]):
        start = slash + 1
    return key[start:]


def _cut_bedrock(key: str) -> str:
    for prefix in _BEDROCK:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


def _cut_version(key: str) -> str:
    head, colon, tail = key.rpartition(":")
    base = head if colon and tail.isdecimal() else key
    cut = base.rfind("-v")
    return key[:cut] if cut >= 0 and base[cut + 2 :].isdecimal() else key


def _cut_date(key: str) -> str:
    if len(key) >= 9 and key[-9] in "-@" and key[-8:].isdecimal():
        return key[:-9]
    return key


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
