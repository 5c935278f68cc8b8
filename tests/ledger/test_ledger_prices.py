"""The shipped price table: effective-dated data, matched by normalised model id."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from stagent.domain.errors import ValidationError
from stagent.ledger.price_table import MODEL_ID_PATTERNS
from stagent.ledger.prices import load_price_table, normalize_model_id, parse_price_table

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_the_shipped_table_loads_with_a_version_and_sources() -> None:
    table = load_price_table()
    assert table.version == "stagent-2026-12-01"
    assert table.checked == date(2026, 12, 1)
    assert {"anthropic", "openai"} <= set(table.sources)
    assert len(table.models) >= 20
    for pricing in table.models:
        assert pricing.provider in ("anthropic", "openai")
        for period in pricing.periods:
            assert period.source, pricing.model
            assert isinstance(period.prices.input, Decimal)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("anthropic/claude-opus-4.5", "claude-opus-4-5"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-6[1m]", "claude-opus-4-6"),
        ("GPT-5.2-Codex", "gpt-5-2-codex"),
        ("openai/gpt-5.6-sol", "gpt-5-6-sol"),
    ],
)
def test_model_ids_are_normalised(raw: str, key: str) -> None:
    assert normalize_model_id(raw) == key


def _by_the_patterns(model: str) -> str:
    key = model.strip().lower()
    for pattern in MODEL_ID_PATTERNS:
        key = re.sub(pattern, "", key)
    return key.replace(".", "-").replace("_", "-")


def test_model_ids_are_cut_as_the_patterns_cut_them() -> None:
    """`normalize_model_id` cuts with string methods what `MODEL_ID_PATTERNS` match (no regex
    compile at import): the same key for every id of the shipped table, and for 20,000 ids
    made of the characters the patterns turn on (brackets, slashes, dots, ``-v``, colons,
    digits, a non-ASCII digit, ``@``, newlines, capitals)."""
    known = [m.model for m in load_price_table().models]
    pieces = [
        "claude", "-opus-4-6", "gpt-5.2", "[1m]", "[", "]", "/", "anthropic/", "openai/",
        "us.", "eu.", "apac.", "global.", "anthropic.", "-v1", "-v", ":0", ":", "12",
        "-20250929", "@20250929", "2025092", "-", "@", "\u0663", "\n", " ", "X", "_", ".", "a",
    ]  # fmt: skip
    rng = random.Random(12)
    made = ["".join(rng.choices(pieces, k=rng.randint(1, 8))) for _ in range(20_000)]
    for model in [*known, *made]:
        assert normalize_model_id(model) == _by_the_patterns(model), repr(model)


@pytest.mark.parametrize(
    ("model", "canonical"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-7", "claude-opus-4-6"),
        ("claude-mythos-5-1", "claude-fable-5-1"),
        ("gpt-5.3-codex", "gpt-5.2"),
        ("gpt-5-codex", "gpt-5"),
    ],
)
def test_aliases_find_their_model(model: str, canonical: str) -> None:
    match = load_price_table().find(model, NOW)
    assert match is not None and match.pricing.model == canonical


@pytest.mark.parametrize(
    "model", ["claude-opus-4-9", "claude-sonnet", "gpt-7", "opus", "scripted-1"]
)
def test_unknown_versions_never_fall_back_to_an_older_price(model: str) -> None:
    assert load_price_table().find(model, NOW) is None


def test_prices_are_effective_dated() -> None:
    table = load_price_table()
    before = table.find("claude-sonnet-5-5", datetime(2026, 10, 6, 23, 59, tzinfo=UTC))
    after = table.find("claude-sonnet-5-5", datetime(2026, 10, 7, tzinfo=UTC))
    assert before is not None and before.period.prices.cache_read == Decimal("0.20")
    assert after is not None and after.period.prices.cache_read == Decimal("0.10")
    # Haiku 5.5 launched on 2026-10-07: before that the table has no price for it.
    assert table.find("claude-haiku-5-5", datetime(2026, 10, 1, tzinfo=UTC)) is None
    assert table.find("claude-haiku-5-5", NOW) is not None


def test_tiers_keep_base_prices_for_categories_they_leave_out() -> None:
    match = load_price_table().find("gpt-6-sol", NOW)
    assert match is not None
    prices, tier = match.period.for_prompt(272_001)
    assert tier == 272_000
    assert prices.input == Decimal("4") and prices.output == Decimal("15")
    assert prices.cache_write_5m == Decimal("2.50")  # not in the tier: the base price
    base, none = match.period.for_prompt(272_000)
    assert none is None and base.input == Decimal("2")


def test_a_malformed_table_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text(
        "version: x\nchecked: 2026-01-01\nmodels:\n  - id: m\n    provider: p\n"
        "    prices:\n      - {input: -1, output: 2, source: s}\n"
    )
    with pytest.raises(ValidationError) as caught:
        load_price_table(bad)
    assert f"{bad}:7: models[0].prices[0].input" in caught.value.message


def test_periods_must_be_in_date_order() -> None:
    data = {
        "version": "x",
        "checked": date(2026, 1, 1),
        "models": [
            {
                "id": "m",
                "provider": "p",
                "prices": [
                    {"from": date(2026, 5, 1), "input": 1, "output": 1, "source": "s"},
                    {"from": date(2026, 1, 1), "input": 2, "output": 2, "source": "s"},
                ],
            }
        ],
    }
    with pytest.raises(ValidationError, match="date order"):
        parse_price_table(data)
