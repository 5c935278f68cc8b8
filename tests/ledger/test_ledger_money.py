"""Money is integer micro-USD; amounts people type are parsed exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stagent.domain.errors import ValidationError
from stagent.ledger.money import format_usd, micros_to_usd, parse_usd, usd_text, usd_to_micros


@pytest.mark.parametrize(
    ("text", "micros"),
    [("12.50", 12_500_000), ("$3", 3_000_000), ("0.000001", 1), ("1,000", 1_000_000_000), ("0", 0)],
)
def test_parse_usd(text: str, micros: int) -> None:
    assert parse_usd(text, "cap") == micros


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("abc", "not an amount"),
        ("-1", "zero or more"),
        ("0.0000001", "six decimals"),
        ("nan", "not an amount"),  # no number at all, not a negative one
    ],
)
def test_parse_usd_refuses_with_the_field_named(text: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_usd(text, "daily")
    assert caught.value.message.startswith("daily: ")
    assert problem in caught.value.message


def test_floats_are_read_through_their_shortest_repr() -> None:
    assert usd_to_micros(0.1) == 100_000
    assert usd_to_micros(0.0123456789) == 12_346
    assert usd_to_micros(0.0000005) == 0  # half to even
    assert usd_to_micros(0.0000015) == 2
    assert usd_to_micros(Decimal("2.5")) == 2_500_000


def test_formatting() -> None:
    assert format_usd(3_000_000) == "$3.00"
    assert format_usd(1_204_500_000) == "$1,204.50"
    assert format_usd(4_200) == "$0.0042"
    assert format_usd(-10_000) == "-$0.01"
    assert usd_text(22_800) == "0.0228"
    assert usd_text(5_000_000) == "5.00"
    assert micros_to_usd(1) == Decimal("0.000001")
