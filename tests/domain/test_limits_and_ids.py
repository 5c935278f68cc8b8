"""What people type is limited the same way on every face; ids and timestamps are uniform."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.ids import ensure_aware, new_id, utcnow
from stagent.domain.ledger import LedgerEntry, LedgerFilter
from stagent.domain.limits import (
    DESCRIPTION_MAX,
    NAME_MAX,
    PATH_MAX,
    RULE_MAX,
    TITLE_MAX,
    checked_path,
    checked_text,
)
from stagent.domain.scrub import REDACTED, normalize, scrub, secret_values


@pytest.mark.parametrize("limit", [TITLE_MAX, NAME_MAX, DESCRIPTION_MAX, RULE_MAX])
def test_text_up_to_the_limit_is_kept_as_is(limit: int) -> None:
    text = "é" * limit  # characters, not bytes
    assert checked_text("title", text, limit) is text


@pytest.mark.parametrize("limit", [TITLE_MAX, NAME_MAX, DESCRIPTION_MAX, RULE_MAX])
def test_text_over_the_limit_names_the_field_and_both_lengths(limit: int) -> None:
    with pytest.raises(ValidationError) as caught:
        checked_text("title", "x" * (limit + 1), limit)
    assert caught.value.message == f"title: {limit + 1} characters is too long (at most {limit})"
    assert caught.value.hint == "shorten it"


def test_a_nul_byte_is_refused_before_the_length() -> None:
    with pytest.raises(ValidationError, match=r"^description: contains a NUL byte$"):
        checked_text("description", "a\x00" * 50, 10)


@pytest.mark.parametrize(
    "char", ["\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c"]
)
def test_bidi_controls_are_refused(char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        checked_text("title", f"invoice{char}fdp.exe", TITLE_MAX)
    assert caught.value.message.startswith("title: contains a bidirectional override character")
    assert caught.value.hint and "display differently" in caught.value.hint


@pytest.mark.parametrize(
    "text", ["", "日本語のタイトル", "emoji 🚀", "tab\tand\nnewline", "\u200d"]
)
def test_ordinary_unicode_passes(text: str) -> None:
    assert checked_text("title", text, TITLE_MAX) == text


def test_paths_are_limited_to_linux_path_max() -> None:
    assert checked_path("working_directory", "/a" * (PATH_MAX // 2)) is not None
    with pytest.raises(ValidationError) as caught:
        checked_path("working_directory", "/" + "a" * PATH_MAX)
    assert caught.value.message == (
        f"working_directory: {PATH_MAX + 1} characters is too long for a path (at most {PATH_MAX})"
    )
    with pytest.raises(ValidationError, match="cannot contain a NUL byte"):
        checked_path("working_directory", "/tmp/\x00")


def test_ids_carry_their_prefix_and_twelve_hex_digits() -> None:
    ids = {new_id("tsk") for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"tsk_[0-9a-f]{12}", i) for i in ids)


def test_now_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is UTC
    assert abs((datetime.now(UTC) - now).total_seconds()) < 5


def test_a_naive_time_read_back_is_utc_and_an_aware_one_is_kept() -> None:
    naive = datetime(2026, 1, 1, 12)
    assert ensure_aware(naive) == datetime(2026, 1, 1, 12, tzinfo=UTC)
    paris = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    assert ensure_aware(paris) is paris


def test_secret_values_come_from_variables_named_like_secrets() -> None:
    environ = {
        "OPENAI_API_KEY": "sk-0123456789",
        "GH_TOKEN": "ghp_abcdefgh",
        "DB_PASSWORD": "short",  # too short to be treated as a secret
        "db_secret": "lowercase-name-value",
        "HOME": "/home/someone-long",
        "AWS_CREDENTIALS": "  padded-secret  ",
    }
    assert sorted(secret_values(environ)) == sorted(
        ["sk-0123456789", "ghp_abcdefgh", "lowercase-name-value", "  padded-secret  "]
    )


def test_normalized_secrets_are_trimmed_unique_and_longest_first() -> None:
    assert normalize(["abcdefgh", " abcdefgh ", "abcdefghij", "", "short"]) == (
        "abcdefghij",
        "abcdefgh",
    )


def test_a_longer_secret_is_replaced_whole_before_its_prefix() -> None:
    secrets = normalize(["abcdefgh", "abcdefghijkl"])
    assert scrub("x abcdefghijkl y abcdefgh", secrets) == f"x {REDACTED} y {REDACTED}"


def test_scrub_reaches_keys_nested_lists_and_tuples_and_leaves_other_values() -> None:
    secrets = normalize(["hunter2hunter2"])
    value = {"hunter2hunter2": [("a hunter2hunter2", 3)], "n": None, "f": 1.5, "b": True}
    assert scrub(value, secrets) == {
        REDACTED: [[f"a {REDACTED}", 3]],
        "n": None,
        "f": 1.5,
        "b": True,
    }
    assert scrub(value, ()) is value


def _entry(**tokens: int) -> LedgerEntry:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": "led_1", "task_id": None, "project_id": None, "activity": "run",
        "runtime": "claude", "provider": "anthropic", "model": "m", "input_tokens": 0,
        "output_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0,
        "cache_read_tokens": 0, "reasoning_tokens": 0, "cost_micros": 0,
        "cost_source": "computed", "pricing_version": None, "status": "completed",
        "note": None, "raw": None, "started_at": when, "finished_at": when,
    }  # fmt: skip
    fields.update(tokens)
    return LedgerEntry(**fields)  # type: ignore[arg-type]


def test_a_ledger_rows_total_counts_every_category_once() -> None:
    entry = _entry(
        input_tokens=1,
        output_tokens=20,
        cache_write_5m_tokens=300,
        cache_write_1h_tokens=4000,
        cache_read_tokens=50000,
        reasoning_tokens=7,  # part of output_tokens: not added again
    )
    assert entry.total_tokens == 54321
    assert (entry.source, entry.simulated, entry.run_id) == ("run", False, None)


def test_an_empty_ledger_filter_selects_everything() -> None:
    empty = LedgerFilter()
    names = [f.name for f in dataclasses.fields(LedgerFilter)]
    assert "task_id" in names and "simulated" in names
    assert [getattr(empty, name) for name in names] == [None] * len(names)
