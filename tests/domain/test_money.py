"""Amounts people type (`parse_usd`) and the ways an amount is shown (`shown_usd` on every
face, `usd_text` in JSON, `format_usd`), as pure rules over integer micro-USD."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.money import format_usd, parse_usd, shown_usd, usd_text, usd_to_micros


@pytest.mark.parametrize(
    ("typed", "micros"),
    [
        ("12.50", 12_500_000),
        ("$3", 3_000_000),
        (" 1,204.50 ", 1_204_500_000),
        ("1,000,000", 1_000_000_000_000),
        ("1_000", 1_000_000_000),
        ("1e3", 1_000_000_000),
        ("0.000001", 1),
        ("1.0000000", 1_000_000),  # trailing zeros are no finer than a micro-dollar
        ("0", 0),
        (Decimal("2.5"), 2_500_000),
        (7, 7_000_000),
    ],
)
def test_an_amount_a_person_types_is_read_exactly(typed: str | Decimal | int, micros: int) -> None:
    assert parse_usd(typed, "daily") == micros


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12,50", "daily: '12,50' is not an amount in USD"),  # a decimal comma: not $1,250
        ("1,0000", "daily: '1,0000' is not an amount in USD"),
        (",100", "daily: ',100' is not an amount in USD"),
        ("abc", "daily: 'abc' is not an amount in USD"),
        ("", "daily: '' is not an amount in USD"),
        ("NaN", "daily: 'NaN' is not an amount in USD"),
        ("inf", "daily: 'inf' is not an amount in USD"),
        ("-1", "daily: an amount must be zero or more, not -1"),
        ("-1,000", "daily: an amount must be zero or more, not -1,000"),
        ("1.0000001", "daily: 1.0000001 has more than six decimals (a micro-dollar)"),
        ("2000000000", "daily: 2000000000 is more than 1,000,000,000 USD"),
    ],
)
def test_what_is_not_an_amount_is_named_with_its_field(typed: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_usd(typed, "daily")
    assert caught.value.message == message


def test_text_that_is_no_number_says_how_to_write_one() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_usd("12,50", "amount")
    assert caught.value.hint == "write it like 12.50 or 1,204.50 (a dot before the cents)"


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "$0.00"),
        (1, "$0.000001"),
        (4_200, "$0.0042"),
        (13, "$0.000013"),
        (9_999, "$0.01"),  # two significant digits round up to a cent: shown as cents
        (14_500, "$0.01"),
        (27_494_999, "$27.49"),
        (1_204_500_000, "$1,204.50"),
        (-4_200, "-$0.0042"),
    ],
)
def test_every_face_shows_cents_from_a_cent_up_and_never_zero_for_something(
    micros: int, shown: str
) -> None:
    assert shown_usd(micros) == shown


@pytest.mark.parametrize(
    ("micros", "text", "formatted"),
    [
        (3_000_000, "3.00", "$3.00"),
        (4_200, "0.0042", "$0.0042"),
        (1_204_500_000, "1204.50", "$1,204.50"),
        (-5_000, "-0.005", "-$0.005"),
    ],
)
def test_json_text_and_people_text_keep_every_micro_dollar(
    micros: int, text: str, formatted: str
) -> None:
    assert (usd_text(micros), format_usd(micros)) == (text, formatted)


def test_a_float_cost_is_read_as_the_decimal_it_prints_as() -> None:
    assert usd_to_micros(0.1) == 100_000 and usd_to_micros(0.0000005) == 0  # half to even
    assert usd_to_micros(0.0000015) == 2
