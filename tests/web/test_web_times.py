"""Times on pages read as "5 min ago" with the full UTC stamp in the tooltip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stagent.web.ui.times import ago, ago_text

NOW = datetime(2026, 12, 6, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=59, seconds=59), "59 min ago"),
        (timedelta(hours=3, minutes=10), "3 h ago"),
        (timedelta(days=1, hours=2), "yesterday"),
        (timedelta(days=6), "6 days ago"),
        (timedelta(days=10), "Nov 26"),
        (timedelta(days=400), "2025-11-01"),
        (-timedelta(seconds=3), "just now"),  # a clock a little ahead of the server's
    ],
)
def test_relative_text(before: timedelta, text: str) -> None:
    assert ago_text(NOW - before, NOW) == text


def test_the_element_carries_the_full_stamp_and_the_instant() -> None:
    html = str(ago(NOW - timedelta(minutes=5), NOW))
    assert ">5 min ago</time>" in html
    assert 'title="2026-12-06 18:25:00 UTC"' in html
    assert 'datetime="2026-12-06T18:25:00+00:00"' in html
    assert str(ago(None)) == ""
    naive = str(ago(datetime(2026, 12, 6, 18, 0), NOW))  # stored without a zone: UTC
    assert 'title="2026-12-06 18:00:00 UTC"' in naive and ">30 min ago<" in naive
