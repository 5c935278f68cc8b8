"""The price table kept in the home (`stagent.ledger.price_cache`): the same table as reading the
files, read again whenever the person's override file (or the shipped table) changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from stagent.domain.events import UsageEvent
from stagent.ledger.cost import cost_of
from stagent.ledger.price_cache import cached_price_table
from stagent.ledger.prices import PriceTable, load_price_table

NOW = datetime(2026, 12, 1, tzinfo=UTC)
OVERRIDE = """\
models:
  - id: gpt-6-astra
    provider: openai
    prices:
      - {input: 3, output: 12, source: contract}
"""


def micros(table: PriceTable, model: str) -> int:
    usage = UsageEvent(model=model, input_tokens=1_000, output_tokens=1_000)
    return cost_of(usage, table, at=NOW).micros


def test_the_kept_table_prices_as_the_files_do(tmp_path: Path) -> None:
    user = tmp_path / "prices.yaml"
    user.write_text(OVERRIDE)
    first = cached_price_table(user, tmp_path / "cache")
    kept = cached_price_table(user, tmp_path / "cache")

    fresh = load_price_table(user_file=user)
    assert kept is not first  # read back from the cache file
    assert len(list((tmp_path / "cache").glob("prices-*.pickle"))) == 1
    assert (kept.version, kept.overrides) == (fresh.version, fresh.overrides)
    for model in ("gpt-6-astra", "claude-sonnet-4-5", "claude-opus-4-6"):
        assert micros(kept, model) == micros(fresh, model)


def test_an_edited_override_file_is_read_again(tmp_path: Path) -> None:
    user = tmp_path / "prices.yaml"
    user.write_text(OVERRIDE)
    before = cached_price_table(user, tmp_path / "cache")

    user.write_text(OVERRIDE.replace("input: 3,", "input: 5,"))
    after = cached_price_table(user, tmp_path / "cache")
    user.unlink()
    shipped = cached_price_table(user, tmp_path / "cache")

    assert micros(before, "gpt-6-astra") == 3_000 + 12_000
    assert micros(after, "gpt-6-astra") == 5_000 + 12_000
    assert shipped.version == load_price_table().version and not shipped.overrides
    assert len(list((tmp_path / "cache").glob("prices-*.pickle"))) == 1  # older ones dropped


def test_a_damaged_cache_file_is_read_from_the_files(tmp_path: Path) -> None:
    user = tmp_path / "prices.yaml"
    cached_price_table(user, tmp_path / "cache")
    (kept,) = (tmp_path / "cache").glob("prices-*.pickle")
    kept.write_bytes(b"not a pickle")

    table = cached_price_table(user, tmp_path / "cache")

    assert table.version == load_price_table().version
    assert micros(table, "claude-sonnet-4-5") == micros(load_price_table(), "claude-sonnet-4-5")


def test_an_unwritable_cache_folder_only_costs_the_reading(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder would be")

    table = cached_price_table(tmp_path / "prices.yaml", blocker)

    assert table.version == load_price_table().version
