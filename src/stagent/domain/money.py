"""Money as integer micro-USD (millionths of a dollar); `Decimal` only at the edges.

Pure values and rules, so every face uses one module: the pages and the CLI show amounts with
`shown_usd` (the read-only commands load no `stagent.ledger`); `stagent.ledger.money` re-exports
these names for the ledger's own modules.

No float ever carries money here: amounts people type are parsed from text, costs reported by a
runtime as a float are converted through their shortest decimal representation.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

MICROS_PER_USD = 1_000_000
MAX_USD = Decimal("1000000000")
"""A sanity ceiling for amounts people type (one billion dollars)."""


def usd_to_micros(amount: Decimal | int | float | str) -> int:
    """Convert dollars to whole micro-USD, rounding half to even.

    A float is read through its shortest repr (``0.1`` is ``Decimal("0.1")``, not the binary
    approximation), which is what a runtime that reports ``0.1`` meant.
    """
    value = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    return int((value * MICROS_PER_USD).to_integral_value(rounding=ROUND_HALF_EVEN))


def micros_to_usd(micros: int) -> Decimal:
    """Micro-USD as an exact `Decimal` number of dollars."""
    return Decimal(micros) / MICROS_PER_USD


def usd_text(micros: int) -> str:
    """Dollars as plain text for JSON: two decimals, more only when they matter (``"0.0042"``)."""
    value = micros_to_usd(micros)
    if micros % 10_000 == 0:
        return f"{value:.2f}"
    return f"{value:.6f}".rstrip("0")


def format_usd(micros: int) -> str:
    """Dollars for people: ``$3.00``, ``$1,204.50``, ``$0.0042``."""
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros % 10_000 == 0:
        return f"{sign}${micros_to_usd(micros):,.2f}"
    return f"{sign}${usd_text(micros)}"


def parse_usd(text: str | Decimal | int, field: str) -> int:
    """Parse an amount a person typed (``"12.50"``, ``"$3"``, ``"1,204.50"``) into micro-USD.

    Raises `ValidationError` naming ``field`` for text that is not a non-negative amount with at
    most six decimals (trailing zeros do not count), and for commas anywhere but between
    thousands: ``"12,50"`` is refused, never read as 1250 dollars.
    """
    from stagent.domain.errors import ValidationError  # not at the top: its `dataclasses` is
    # most of what pricing an import would load only for this (`stagent.lean`)

    raw = str(text).strip().removeprefix("$").replace("_", "")
    try:
        value = Decimal(_without_thousands(raw))
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise ValidationError(
            f"{field}: {str(text)!r} is not an amount in USD",
            hint="write it like 12.50 or 1,204.50 (a dot before the cents)",
        )
    if value < 0:
        raise ValidationError(f"{field}: an amount must be zero or more, not {text}")
    if value > MAX_USD:
        raise ValidationError(f"{field}: {text} is more than {MAX_USD:,} USD")
    exponent = value.normalize().as_tuple().exponent  # 1.0000000 is one dollar
    if isinstance(exponent, int) and exponent < -6:
        raise ValidationError(f"{field}: {text} has more than six decimals (a micro-dollar)")
    return usd_to_micros(value)


def _without_thousands(raw: str) -> str:
    """``raw`` without its thousands separators; text `Decimal` refuses when a comma stands
    anywhere else (``12,50``, ``1,0000``)."""
    if "," not in raw:
        return raw
    whole, dot, cents = raw.partition(".")
    groups = whole.removeprefix("-").split(",")
    first, rest = groups[0], groups[1:]
    if not (first.isdigit() and len(first) <= 3) or any(
        len(group) != 3 or not group.isdigit() for group in rest
    ):
        return "not an amount"
    return whole.replace(",", "") + dot + cents


CENT = Decimal("0.01")


def shown_usd(micros: int) -> str:
    """Dollars as every page shows them, one rule: to the cent from a cent up (``$27.49``,
    ``$1,204.50``); below a cent, two significant digits (``$0.0042``, ``$0.000013``), so a
    call that cost something never reads ``$0.00``; nothing is ``$0.00``. (An unknown cost is
    not an amount: pages say "unpriced"; a simulated call says "simulated".)"""
    sign = "-" if micros < 0 else ""
    value = micros_to_usd(abs(micros))
    if value < CENT and micros:
        small = value.quantize(Decimal(1).scaleb(value.adjusted() - 1), rounding=ROUND_HALF_UP)
        if small < CENT:
            return f"{sign}${small.normalize():f}"
    return f"{sign}${value.quantize(CENT, rounding=ROUND_HALF_UP):,}"
