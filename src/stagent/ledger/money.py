"""Money as integer micro-USD: `stagent.domain.money`'s names, where the ledger's modules (and
their callers) have always imported them from."""

from stagent.domain.money import (
    CENT,
    MAX_USD,
    MICROS_PER_USD,
    format_usd,
    micros_to_usd,
    parse_usd,
    shown_usd,
    usd_text,
    usd_to_micros,
)

__all__ = [
    "CENT",
    "MAX_USD",
    "MICROS_PER_USD",
    "format_usd",
    "micros_to_usd",
    "parse_usd",
    "shown_usd",
    "usd_text",
    "usd_to_micros",
]
