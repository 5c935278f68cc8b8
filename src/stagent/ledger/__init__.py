"""The usage ledger: what every provider call used and cost.

- `stagent.ledger.prices` loads the price table, a data file (``prices.yaml``) of effective-dated
  per-model prices with their sources, matched by normalised model id.
- `stagent.ledger.cost` prices raw token counts exactly (integer micro-USD), preferring the cost a
  runtime reported, and says where each figure came from.
- `stagent.ledger.recorder` turns a runtime's `UsageEvent` into one ledger row.

The ledger keeps raw token counts by category, so history can be re-priced when prices change.
"""

from typing import TYPE_CHECKING, Any

from stagent.ledger.cost import Cost, CostSource, TokenCounts, cost_of
from stagent.ledger.money import format_usd, micros_to_usd, parse_usd, usd_to_micros
from stagent.ledger.prices import PriceTable, load_price_table, normalize_model_id

if TYPE_CHECKING:
    from stagent.ledger.recorder import UsageRecorder


def __getattr__(name: str) -> Any:
    """`UsageRecorder` on first use: the recorder imports the store (SQLAlchemy), which the
    importers and ``stagent ledger import`` on a SQLite file do without."""
    if name == "UsageRecorder":
        from stagent.ledger.recorder import UsageRecorder

        return UsageRecorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Cost",
    "CostSource",
    "PriceTable",
    "TokenCounts",
    "UsageRecorder",
    "cost_of",
    "format_usd",
    "load_price_table",
    "micros_to_usd",
    "normalize_model_id",
    "parse_usd",
    "usd_to_micros",
]
