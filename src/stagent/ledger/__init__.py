"""The usage ledger: what every provider call used and cost.

- `stagent.ledger.prices` loads the price table, a data file (``prices.yaml``) of effective-dated
  per-model prices with their sources, matched by normalised model id.
- `stagent.ledger.cost` prices raw token counts exactly (integer micro-USD), preferring the cost a
  runtime reported, and says where each figure came from.
- `stagent.ledger.recorder` turns a runtime's `UsageEvent` into one ledger row.

The ledger keeps raw token counts by category, so history can be re-priced when prices change.
The names below are imported on first use: the package itself imports nothing, so
``stagent ledger import`` with nothing new loads neither the price table's YAML and pydantic
nor the recorder's store (SQLAlchemy).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagent.ledger.cost import Cost, CostSource, TokenCounts, cost_of
    from stagent.ledger.money import format_usd, micros_to_usd, parse_usd, usd_to_micros
    from stagent.ledger.prices import PriceTable, load_price_table, normalize_model_id
    from stagent.ledger.recorder import UsageRecorder

_HOMES = {
    "Cost": "cost",
    "CostSource": "cost",
    "TokenCounts": "cost",
    "cost_of": "cost",
    "format_usd": "money",
    "micros_to_usd": "money",
    "parse_usd": "money",
    "usd_to_micros": "money",
    "PriceTable": "prices",
    "load_price_table": "prices",
    "normalize_model_id": "prices",
    "UsageRecorder": "recorder",
}
"""Each exported name's module under `stagent.ledger`."""


def __getattr__(name: str) -> Any:
    """An exported name, its module imported now."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


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
