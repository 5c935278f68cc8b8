"""Pricing one usage record exactly, and saying where the figure came from.

Every category is priced: uncached input, output, 5-minute and 1-hour cache writes, cache reads
(OpenAI's cached input). Sums are exact micro-USD (integers over a power of ten: the `Decimal`
prices scaled), rounded half-to-even to a whole micro-dollar once, at the end.

Where the cost comes from (``source``):

- ``reported``: the runtime reported it (Claude's ``total_cost_usd``); preferred. The table's own
  figure is kept beside it (``computed_micros``) so the two can be compared.
- ``computed``: from the price table, with its ``pricing_version``.
- ``estimated``: from the price table over *estimated* tokens (a call the provider served whose
  usage never came: `UsageEvent.estimated` says why and from what); its note starts
  ``ESTIMATED:``. Budgets count it like any call: over-counting beats under-counting at a cap.
- ``unpriced``: the model is not in the table; the cost is 0 and the row says so loudly.
- ``none``: nothing to price (a simulated runtime, which calls no model).
"""

import functools
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, NamedTuple

from stagent.ledger.money import usd_to_micros
from stagent.ledger.price_table import CategoryPrices, PriceMatch, PriceTable

if TYPE_CHECKING:  # only read here: an import prices calls without loading the event types
    from stagent.domain.events import UsageEvent

CostSource = Literal["reported", "computed", "estimated", "unpriced", "none", "estimate"]
"""Where a ledger row's cost came from (``estimated``: a call priced over estimated tokens;
``estimate`` marks budget reservations)."""

SIMULATED_PROVIDER = "simulated"


class TokenCounts(NamedTuple):
    """Raw, disjoint token counts of one provider call, by the category each is billed in."""

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    reasoning: int = 0
    """Part of ``output`` (not billed separately)."""

    @classmethod
    def of(cls, usage: "UsageEvent") -> "TokenCounts":
        """Split a `UsageEvent` into billing categories (its cache writes into 5 min and 1 h)."""
        one_hour = max(0, min(usage.cache_write_1h_tokens, usage.cache_write_tokens))
        return cls(
            input=max(0, usage.input_tokens),
            output=max(0, usage.output_tokens),
            cache_write_5m=max(0, usage.cache_write_tokens - one_hour),
            cache_write_1h=one_hour,
            cache_read=max(0, usage.cache_read_tokens),
            reasoning=max(0, usage.reasoning_tokens),
        )

    @property
    def prompt(self) -> int:
        """Every input-side token: what prompt-length price tiers look at."""
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read

    @property
    def total(self) -> int:
        """Prompt plus output tokens."""
        return self.prompt + self.output


@functools.lru_cache(maxsize=1024)
def modifiers_of(
    speed: str | None, inference_geo: str | None, service_tier: str | None
) -> tuple[str, ...]:
    """The price modifiers a call's attributes ask for (``fast``, ``regional``, ``batch``,
    ``flex``), in a fixed order (remembered: an import asks the same few questions often)."""
    found: list[str] = []
    tier = (service_tier or "").strip().lower()
    if (speed or "").strip().lower() == "fast" or tier in ("priority", "fast"):
        found.append("fast")
    if (inference_geo or "").strip().lower() not in ("", "global", "not_available"):
        found.append("regional")
    if tier in ("batch", "flex"):
        found.append(tier)
    return tuple(found)


class Computed(NamedTuple):
    """What the price table says a call cost."""

    numerator: int
    denominator: int
    """The exact cost in micro-USD is ``numerator / denominator`` (a power of ten): USD per
    MTok times tokens is micro-USD exactly."""
    micros: int
    version: str
    tier: int | None
    """The prompt-length threshold whose prices applied, if any."""
    fallbacks: tuple[str, ...]
    """Categories the model has no price for, charged at its input price."""
    applied: tuple[str, ...] = ()
    """Modifiers whose multiplier was applied (``fast``, ``regional``...)."""
    ignored: tuple[str, ...] = ()
    """Modifiers the call asked for that the model has no multiplier for (priced as standard)."""

    @property
    def exact_micros(self) -> Decimal:
        """The cost before rounding, in micro-USD."""
        return Decimal(self.numerator) / Decimal(self.denominator)


class Cost(NamedTuple):
    """A call's cost in micro-USD and its provenance."""

    micros: int
    source: CostSource
    provider: str | None
    pricing_version: str | None = None
    computed_micros: int | None = None
    note: str | None = None
    fallbacks: tuple[str, ...] = ()
    tier: int | None = None


def compute(tokens: TokenCounts, match: PriceMatch, modifiers: tuple[str, ...] = ()) -> Computed:
    """Price ``tokens`` with ``match``'s prices.

    A prompt longer than a tier's threshold is priced *entirely* at that tier's prices (how the
    providers bill long-context requests); each modifier's multiplier scales the whole request.
    The arithmetic is on integers (prices scaled by a power of ten): exact, like `Decimal`, and
    several times faster over a large import; rounded half-to-even once, at the end.
    """
    return RateCard.of(match, modifiers).compute(
        tokens.input, tokens.output, tokens.cache_write_5m, tokens.cache_write_1h, tokens.cache_read
    )


_Scaled = tuple[int, tuple[int, ...], tuple[str | None, ...]]
"""(decimal places, each category's price times 10**places, the cache categories without a
price: see `_scaled`)."""


class RateCard(NamedTuple):
    """Everything `compute` looks up for one price match and set of modifiers, so that each
    call is then priced with integer arithmetic only (an import prices 10^5 calls with a few
    cards)."""

    version: str
    base: _Scaled
    tiers: tuple[tuple[int, _Scaled], ...]
    """(threshold, prices) of each prompt-length tier, the highest threshold first."""
    factor: int
    places: int
    """The applied multipliers' product is ``factor / 10**places``."""
    applied: tuple[str, ...]
    ignored: tuple[str, ...]

    @classmethod
    def of(cls, match: PriceMatch, modifiers: tuple[str, ...] = ()) -> "RateCard":
        """The card for ``match`` with ``modifiers`` (those the model has no multiplier for
        are ignored: priced as standard, and said so)."""
        period = match.period
        tiers = sorted(period.tiers, key=lambda tier: -tier.above)
        factor, places = 1, 0
        applied: list[str] = []
        ignored: list[str] = []
        for name in modifiers:
            multiplier = match.pricing.multiplier(name)
            if multiplier is None:
                ignored.append(name)
                continue
            scaled, digits = _fraction(multiplier)
            factor, places = factor * scaled, places + digits
            applied.append(name)
        return cls(
            match.version, _scaled(period.prices),
            tuple((tier.above, _scaled(tier.prices)) for tier in tiers), factor, places,
            tuple(applied), tuple(ignored),
        )  # fmt: skip

    def compute(self, input: int, output: int, write_5m: int, write_1h: int, read: int) -> Computed:
        """Price one call's disjoint token counts (`compute`)."""
        numerator, denominator, micros, tier, fallbacks = self.price(
            input, output, write_5m, write_1h, read
        )
        return Computed(
            numerator, denominator, micros, self.version, tier, fallbacks, self.applied,
            self.ignored,
        )  # fmt: skip

    def price(
        self, input: int, output: int, write_5m: int, write_1h: int, read: int
    ) -> tuple[int, int, int, int | None, tuple[str, ...]]:
        """`compute`'s figures as a plain tuple: (numerator, denominator, micros, tier,
        fallbacks), for an import's hot loop (a `Computed` per call was ~2 µs)."""
        prompt = input + write_5m + write_1h + read
        scaled, tier = self.base, None
        for above, prices in self.tiers:
            if prompt > above:
                scaled, tier = prices, above
                break
        exponent, rates, missing = scaled
        numerator = (
            input * rates[0]
            + output * rates[1]
            + write_5m * rates[2]
            + write_1h * rates[3]
            + read * rates[4]
        )
        fallbacks: tuple[str, ...] = ()
        if missing != _NONE_MISSING:
            fallbacks = tuple(
                name
                for name, count in zip(missing, (write_5m, write_1h, read), strict=True)
                if name and count
            )
        denominator = 10 ** (exponent + self.places)
        numerator *= self.factor
        return numerator, denominator, _round_half_even(numerator, denominator), tier, fallbacks


CACHE_CATEGORIES = ("cache_write_5m", "cache_write_1h", "cache_read")
_NONE_MISSING: tuple[str | None, ...] = (None, None, None)


@functools.cache
def _fraction(value: Decimal) -> tuple[int, int]:
    """``value`` as (integer, decimal places): 3.75 is (375, 2)."""
    exponent = value.as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 0
    return int(value.scaleb(places)), places


@functools.cache
def _scaled(prices: CategoryPrices) -> _Scaled:
    """(decimal places, each category's price times 10**places, the cache categories that
    have no price and are charged at the input price)."""
    cache = (prices.cache_write_5m, prices.cache_write_1h, prices.cache_read)
    used = [prices.input, prices.output, *(price for price in cache if price is not None)]
    places = max(_fraction(price)[1] for price in used)
    rates = [prices.input, prices.output, *(prices.input if p is None else p for p in cache)]
    scaled = tuple(int(rate.scaleb(places)) for rate in rates)
    missing = tuple(
        name if p is None else None for name, p in zip(CACHE_CATEGORIES, cache, strict=True)
    )
    return places, scaled, missing


def _round_half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (both >= 0) rounded half to even."""
    quotient, rest = divmod(numerator, denominator)
    twice = 2 * rest
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def find_with_modifiers(
    table: PriceTable, usage: "UsageEvent", at: datetime
) -> tuple[PriceMatch | None, tuple[str, ...]]:
    """The prices for ``usage``'s model and the modifiers it asks for; a ``-fast`` model name
    (``gpt-5.4-fast``) is its base model in fast mode."""
    return find_for_call(
        table, usage.model, at, usage.speed, usage.inference_geo, usage.service_tier
    )


def find_for_call(
    table: PriceTable,
    model: str,
    at: datetime,
    speed: str | None,
    inference_geo: str | None,
    service_tier: str | None,
) -> tuple[PriceMatch | None, tuple[str, ...]]:
    """`find_with_modifiers` of a call of ``model`` at ``at`` in these modes."""
    modifiers = modifiers_of(speed, inference_geo, service_tier)
    match = table.find(model, at)
    if match is None and model.strip().lower().endswith("-fast"):
        match = table.find(model.strip()[: -len("-fast")], at)
        if match is not None and "fast" not in modifiers:
            modifiers = ("fast", *modifiers)
    return match, modifiers


def cost_of(
    usage: "UsageEvent", table: PriceTable, *, at: datetime, provider: str | None = None
) -> Cost:
    """The cost of one usage record: reported if the runtime said, else computed, else unpriced.

    ``provider`` is the runtime's provider, used when the table does not know the model;
    ``simulated`` (the scripted runtime) costs nothing unless its scenario reports a cost.
    """
    tokens = TokenCounts.of(usage)
    match, modifiers = find_with_modifiers(table, usage, at)
    computed = compute(tokens, match, modifiers) if match else None
    provider = match.pricing.provider if match else provider
    if usage.cost_usd is not None:
        return Cost(
            micros=usd_to_micros(usage.cost_usd),
            source="reported",
            provider=provider,
            pricing_version=None,
            computed_micros=computed.micros if computed else None,
            fallbacks=computed.fallbacks if computed else (),
            tier=computed.tier if computed else None,
        )
    if computed is not None:
        note = computed_note(computed)
        if usage.estimated:
            note = f"ESTIMATED: {usage.estimated}" + (f"; {note}" if note else "")
        return Cost(
            micros=computed.micros,
            source="estimated" if usage.estimated else "computed",
            provider=provider,
            pricing_version=computed.version,
            computed_micros=computed.micros,
            fallbacks=computed.fallbacks,
            tier=computed.tier,
            note=note,
        )
    if provider == SIMULATED_PROVIDER:
        return Cost(0, "none", provider, note="simulated: no model was called")
    return Cost(
        micros=0,
        source="unpriced",
        provider=provider,
        note=f"UNPRICED: model {usage.model!r} is not in price table {table.version}; "
        f"its {tokens.total} tokens cost $0 here and are not counted against budgets",
    )


def computed_note(computed: Computed) -> str | None:
    """What a person should know about a computed figure (fallback prices, ignored modes)."""
    return note_of(computed.fallbacks, computed.ignored)


def note_of(fallbacks: tuple[str, ...], ignored: tuple[str, ...]) -> str | None:
    """`computed_note` from its parts: the categories charged at the input price and the
    modes without a multiplier."""
    parts: list[str] = []
    if fallbacks:
        parts.append(f"no price for {', '.join(fallbacks)}: charged at the input price")
    if ignored:
        parts.append(f"no multiplier for {', '.join(ignored)}: priced at standard rates")
    return "; ".join(parts) or None
