"""Long-context tiers, fast / regional / batch multipliers, the reference's full model list, and
the person's override file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.events import UsageEvent
from stagent.ledger.cost import cost_of, modifiers_of
from stagent.ledger.prices import load_price_table

NOW = datetime(2026, 12, 1, tzinfo=UTC)
TABLE = load_price_table()

REFERENCE_MODELS = [
    # Anthropic, agent-ecosystem-facts.md section 4
    "claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
    "claude-opus-5-5", "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6",
    "claude-opus-4-5", "claude-opus-4-1", "claude-opus-4", "claude-sonnet-5-5", "claude-sonnet-5",
    "claude-sonnet-4-6", "claude-sonnet-4-5", "claude-sonnet-4", "claude-haiku-5-5",
    "claude-haiku-4-5", "claude-3-5-haiku",
    # OpenAI
    "gpt-5", "gpt-5-codex", "gpt-5.2", "gpt-5.2-codex", "gpt-5.3-codex", "gpt-5.4",
    "gpt-5.4-mini", "gpt-5.4-nano", "gpt-5.5", "gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna",
    "gpt-6-sol", "gpt-6-luna", "gpt-6.1-sol", "gpt-6.1-terra", "codex-mini-latest",
]  # fmt: skip


def micros(model: str, **fields: Any) -> int:
    cost = cost_of(UsageEvent(model=model, **fields), TABLE, at=NOW)
    assert cost.source == "computed", cost
    return cost.micros


@pytest.mark.parametrize("model", REFERENCE_MODELS)
def test_every_model_in_the_reference_is_priced(model: str) -> None:
    assert TABLE.find(model, NOW) is not None, model


def test_a_long_context_request_is_priced_entirely_at_the_long_context_rates() -> None:
    # Sonnet 4.5: <= 200K prompt at $3 / $15; above, the WHOLE request at $6 / $22.50 (and the
    # tier's cache prices), not only the tokens past the threshold (what ccusage does).
    at_threshold = micros("claude-sonnet-4-5", input_tokens=200_000, output_tokens=1_000)
    assert at_threshold == 200_000 * 3 + 1_000 * 15
    past = micros(
        "claude-sonnet-4-5", input_tokens=1_000, cache_read_tokens=200_000, output_tokens=1_000
    )
    assert past == 1_000 * 6 + 200_000 * 0.6 + 1_000 * 22.5
    # ccusage's per-token split would charge 200,000 read tokens at $0.30 ... plus 1,000 at $0.60:
    ccusage_style = 1_000 * 3 + 199_000 * 0.3 + 1_000 * 0.6 + 1_000 * 15
    assert past > ccusage_style


def test_haiku_5_5_tiers_at_100k_for_the_whole_request() -> None:
    small = micros("claude-haiku-5-5", input_tokens=100_000, output_tokens=10_000)
    large = micros("claude-haiku-5-5", input_tokens=100_001, output_tokens=10_000)
    assert small == round(100_000 * 0.1 + 10_000 * 0.5)
    assert large == round(100_001 * 0.5 + 10_000 * 2.5)


def test_openai_long_context_at_272k() -> None:
    assert micros("gpt-5.4", input_tokens=272_000) == 272_000 * 2.5
    assert micros("gpt-5.4", input_tokens=272_001, output_tokens=100) == 272_001 * 5 + 100 * 22.5


def test_one_hour_cache_writes_at_their_own_rate() -> None:
    # Opus 4.6: 5-minute $6.25, 1-hour $10 per MTok.
    one_hour = micros("claude-opus-4-6", cache_write_tokens=100_000, cache_write_1h_tokens=100_000)
    five_min = micros("claude-opus-4-6", cache_write_tokens=100_000)
    assert (one_hour, five_min) == (1_000_000, 625_000)


@pytest.mark.parametrize(
    ("model", "factor"),
    [
        ("claude-opus-4-6", 6),
        ("claude-opus-4-7", 6),
        ("claude-opus-4-8", 2),
        ("claude-opus-5-5", 2),
    ],
)
def test_fast_mode_multiplies_the_whole_request(model: str, factor: int) -> None:
    tokens = {"input_tokens": 1_000, "output_tokens": 1_000, "cache_read_tokens": 10_000}
    assert micros(model, speed="fast", **tokens) == factor * micros(model, **tokens)


def test_a_mode_the_model_lacks_is_priced_standard_and_said_so() -> None:
    cost = cost_of(
        UsageEvent(model="claude-sonnet-5-5", input_tokens=1_000, speed="fast"), TABLE, at=NOW
    )
    assert cost.micros == 2_000
    assert cost.note is not None and "no multiplier for fast" in cost.note


def test_us_only_inference_costs_ten_percent_more_on_newer_models() -> None:
    base = micros("claude-opus-4-6", input_tokens=1_000_000)
    assert micros("claude-opus-4-6", input_tokens=1_000_000, inference_geo="us") == base * 1.1
    assert micros("claude-opus-4-6", input_tokens=1_000_000, inference_geo="global") == base
    # fast and regional together multiply
    both = micros("claude-opus-4-6", input_tokens=1_000_000, inference_geo="us", speed="fast")
    assert both == round(base * 6 * 1.1)


def test_batch_halves_and_openai_priority_doubles() -> None:
    base = micros("gpt-5", input_tokens=10_000, output_tokens=1_000)
    assert micros("gpt-5", input_tokens=10_000, output_tokens=1_000, service_tier="batch") == (
        base / 2
    )
    assert micros("gpt-5", input_tokens=10_000, output_tokens=1_000, service_tier="flex") == (
        base / 2
    )
    assert micros("gpt-5", input_tokens=10_000, output_tokens=1_000, service_tier="priority") == (
        base * 2
    )
    assert micros("claude-haiku-4-5", input_tokens=1_000, service_tier="batch") == 500


def test_a_fast_suffix_is_the_base_model_in_fast_mode() -> None:
    assert micros("gpt-5.4-fast", input_tokens=1_000) == 2 * micros("gpt-5.4", input_tokens=1_000)


def test_modifiers_are_read_from_the_calls_attributes() -> None:
    assert modifiers_of("fast", "us", None) == ("fast", "regional")
    assert modifiers_of("standard", "", "batch") == ("batch",)
    assert modifiers_of(None, "global", "priority") == ("fast",)
    assert modifiers_of(None, None, "default") == ()


def test_gpt_6_astra_is_unpriced_not_zero() -> None:
    cost = cost_of(UsageEvent(model="gpt-6-astra", input_tokens=903_000_000), TABLE, at=NOW)
    assert cost.source == "unpriced" and cost.note is not None and "UNPRICED" in cost.note


OVERRIDE = """\
sources:
  contract: our negotiated rate, contract 2026-11
models:
  - id: gpt-6-astra
    provider: openai
    prices:
      - {input: 3, cache_read: 0.30, output: 12, source: contract}
  - id: claude-opus-4-6
    provider: anthropic
    multipliers: {fast: 3}
    prices:
      - {input: 4, cache_write_5m: 5, cache_write_1h: 8, cache_read: 0.40, output: 20,
         source: contract}
"""


def test_the_override_file_adds_and_replaces_models_under_a_new_version(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(OVERRIDE)
    table = load_price_table(user_file=path)
    assert table.version.startswith(f"{TABLE.version}+user-") and table.version != TABLE.version
    assert set(table.overrides) == {"gpt-6-astra", "claude-opus-4-6"}
    astra = cost_of(UsageEvent(model="gpt-6-astra", input_tokens=1_000), table, at=NOW)
    assert (astra.source, astra.micros) == ("computed", 3_000)
    # the replaced model (and its alias) use the person's prices and multipliers
    fast = cost_of(
        UsageEvent(model="claude-opus-4-6", input_tokens=1_000, speed="fast"), table, at=NOW
    )
    assert fast.micros == 12_000
    # provider defaults carry over to override models (OpenAI batch -50 %)
    batch = cost_of(
        UsageEvent(model="gpt-6-astra", input_tokens=1_000, service_tier="batch"), table, at=NOW
    )
    assert batch.micros == 1_500
    # untouched models keep the shipped prices
    assert table.find("claude-opus-4-8", NOW) is not None
    path.write_text(OVERRIDE.replace("input: 3,", "input: 3.5,"))
    assert load_price_table(user_file=path).version != table.version


def test_a_missing_override_file_changes_nothing(tmp_path: Path) -> None:
    assert load_price_table(user_file=tmp_path / "none.yaml").version == TABLE.version


def test_a_broken_override_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n  - id: x\n    provider: openai\n"
        "    prices: [{input: -1, output: 1, source: s}]\n"
    )
    with pytest.raises(ValidationError) as info:
        load_price_table(user_file=path)
    assert str(path) in info.value.message and "input" in info.value.message
