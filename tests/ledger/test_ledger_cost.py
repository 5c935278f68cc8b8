"""Every token category is priced, exactly, in micro-USD; the source of each figure is kept."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from stagent.domain.events import UsageEvent
from stagent.ledger.cost import TokenCounts, compute, cost_of
from stagent.ledger.prices import load_price_table

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TABLE = load_price_table()


def computed(model: str, **tokens: Any) -> int:
    cost = cost_of(UsageEvent(model=model, **tokens), TABLE, at=NOW, provider="anthropic")
    assert cost.source == "computed", cost
    assert cost.pricing_version == TABLE.version
    return cost.micros


def test_each_anthropic_category_at_its_own_price() -> None:
    # Sonnet 4.5: $3 in, $15 out, $3.75 5-min write, $6 1-hour write, $0.30 cache read per MTok;
    # $X per MTok is X micro-USD per token.
    assert computed("claude-sonnet-4-5", input_tokens=1000) == 3_000
    assert computed("claude-sonnet-4-5", output_tokens=500) == 7_500
    assert computed("claude-sonnet-4-5", cache_write_tokens=2000) == 7_500  # all 5-minute
    assert (
        computed("claude-sonnet-4-5", cache_write_tokens=2000, cache_write_1h_tokens=2000) == 12_000
    )
    assert computed("claude-sonnet-4-5", cache_read_tokens=10_000) == 3_000
    assert (
        computed(
            "claude-sonnet-4-5",
            input_tokens=1000,
            output_tokens=500,
            cache_write_tokens=2000,
            cache_write_1h_tokens=800,
            cache_read_tokens=10_000,
        )
        == 22_800  # 3,000 + 7,500 + 1,200 x 3.75 + 800 x 6 + 3,000
    )


def test_one_hour_writes_cost_more_than_five_minute_writes() -> None:
    five = computed("claude-opus-4-5", cache_write_tokens=1_000_000)
    hour = computed(
        "claude-opus-4-5", cache_write_tokens=1_000_000, cache_write_1h_tokens=1_000_000
    )
    assert (five, hour) == (6_250_000, 10_000_000)


def test_openai_cached_input_is_priced_as_a_cache_read() -> None:
    # gpt-5: $1.25 in, $0.125 cached in, $10 out; reasoning is part of output, not extra.
    micros = cost_of(
        UsageEvent(
            model="gpt-5",
            input_tokens=8000,
            cache_read_tokens=2000,
            output_tokens=300,
            reasoning_tokens=100,
        ),
        TABLE,
        at=NOW,
    ).micros
    assert micros == 10_000 + 250 + 3_000


def test_openai_cache_writes_and_long_prompt_tiers() -> None:
    assert computed("gpt-5.6-sol", cache_write_tokens=1000) == 6_250
    # gpt-5.4 above 272K prompt tokens: $5 in / $22.50 out for the whole request.
    assert computed("gpt-5.4", input_tokens=300_000, output_tokens=1000) == 1_500_000 + 22_500
    assert computed("gpt-5.4", input_tokens=272_000, output_tokens=1000) == 680_000 + 15_000


def test_rounding_happens_once_half_to_even() -> None:
    tokens = TokenCounts(cache_read=5)  # Haiku 4.5 reads: $0.10/MTok -> 0.5 micro-USD
    match = TABLE.find("claude-haiku-4-5", NOW)
    assert match is not None
    result = compute(tokens, match)
    assert result.exact_micros == Decimal("0.5") and result.micros == 0
    assert compute(TokenCounts(cache_read=15), match).micros == 2
    assert compute(TokenCounts(cache_read=5, input=1), match).micros == 2  # 1.5 -> 2


def test_a_category_without_a_price_is_charged_at_input_and_said_so() -> None:
    cost = cost_of(UsageEvent(model="codex-mini-latest", cache_read_tokens=1000), TABLE, at=NOW)
    assert cost.micros == 1_500
    assert cost.fallbacks == ("cache_read",)
    assert cost.note is not None and "cache_read" in cost.note


def test_reported_cost_is_preferred_and_the_computed_one_kept() -> None:
    usage = UsageEvent(model="claude-sonnet-4-5", input_tokens=1000, cost_usd=0.5)
    cost = cost_of(usage, TABLE, at=NOW)
    assert (cost.micros, cost.source, cost.computed_micros) == (500_000, "reported", 3_000)
    assert cost.provider == "anthropic"


def test_an_unknown_model_is_unpriced_loudly() -> None:
    cost = cost_of(
        UsageEvent(model="claude-opus-9", input_tokens=10, output_tokens=5),
        TABLE,
        at=NOW,
        provider="anthropic",
    )
    assert (cost.micros, cost.source, cost.pricing_version) == (0, "unpriced", None)
    assert cost.note is not None and cost.note.startswith("UNPRICED")
    assert "claude-opus-9" in cost.note and "15 tokens" in cost.note


def test_a_simulated_model_costs_nothing_without_being_flagged() -> None:
    cost = cost_of(
        UsageEvent(model="scripted-1", input_tokens=10), TABLE, at=NOW, provider="simulated"
    )
    assert (cost.micros, cost.source) == (0, "none")
    reported = cost_of(
        UsageEvent(model="scripted-1", cost_usd=1.25), TABLE, at=NOW, provider="simulated"
    )
    assert (reported.micros, reported.source) == (1_250_000, "reported")


@pytest.mark.parametrize(
    ("write", "one_hour", "five_m", "one_h"), [(100, 30, 70, 30), (100, 0, 100, 0), (10, 50, 0, 10)]
)
def test_token_counts_split_cache_writes(
    write: int, one_hour: int, five_m: int, one_h: int
) -> None:
    tokens = TokenCounts.of(
        UsageEvent(model="m", cache_write_tokens=write, cache_write_1h_tokens=one_hour)
    )
    assert (tokens.cache_write_5m, tokens.cache_write_1h) == (five_m, one_h)
