"""Budget days and months are the person's: local midnight to midnight, the 1st to the 1st."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from budgettools import new_task, set_budget, spend, usd

from stagent.domain.errors import ValidationError
from stagent.governance.budgets_windows import resolve_timezone, window_for, zone_name
from stagent.workspace import Workspace

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def test_a_spend_just_before_local_midnight_counts_for_that_day(tmp_path: Path) -> None:
    with Workspace.temporary(tmp_path / "ny", timezone="America/New_York").open() as ws:
        set_budget(ws, daily=usd("5"), monthly=usd("50"))
        late = datetime(2026, 3, 10, 23, 59, tzinfo=NEW_YORK)  # 03:59 UTC on March 11
        spend(ws, new_task(ws), 4.0, at=late)

        ws.budgets.clock = lambda: late + timedelta(seconds=30)
        daily, monthly = ws.budgets.status("overall").limits
        assert (daily.window.key, daily.spent, daily.health) == ("2026-03-10", 4_000_000, "warning")
        assert daily.as_json(ws.budgets.zone)["resets"] == "2026-03-11 00:00 America/New_York"

        ws.budgets.clock = lambda: late + timedelta(minutes=2)  # 00:01 local, a new day
        daily, monthly = ws.budgets.status("overall").limits
        assert (daily.window.key, daily.spent) == ("2026-03-11", 0)
        assert (monthly.window.key, monthly.spent) == ("2026-03", 4_000_000)

    with Workspace.temporary(tmp_path / "ny", timezone="UTC").open() as utc:
        utc.budgets.clock = lambda: late + timedelta(seconds=30)
        daily, _ = utc.budgets.status("overall").limits
        assert (daily.window.key, daily.spent) == ("2026-03-11", 4_000_000)


def test_a_month_runs_from_the_first_to_the_first_locally() -> None:
    window = window_for("monthly", datetime(2026, 12, 31, 23, 30, tzinfo=UTC), BERLIN)
    assert window.key == "2027-01"  # already January in Berlin
    assert window.start == datetime(2027, 1, 1, tzinfo=BERLIN)
    assert window.end == datetime(2027, 2, 1, tzinfo=BERLIN)
    february = window_for("monthly", datetime(2028, 2, 10, tzinfo=UTC), UTC)
    assert (february.end - february.start) == timedelta(days=29)


@pytest.mark.parametrize(
    ("day", "hours"), [(datetime(2026, 3, 29, 12), 23), (datetime(2026, 10, 25, 12), 25)]
)
def test_days_follow_daylight_saving_changes(day: datetime, hours: int) -> None:
    window = window_for("daily", day.replace(tzinfo=BERLIN), BERLIN)
    assert window.end.astimezone(UTC) - window.start.astimezone(UTC) == timedelta(hours=hours)


def test_time_zone_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    assert zone_name(resolve_timezone("Asia/Tokyo")) == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "Europe/Lisbon")
    assert zone_name(resolve_timezone(None)) == "Europe/Lisbon"
    monkeypatch.delenv("TZ")
    assert resolve_timezone(None) is not None
    with pytest.raises(ValidationError) as caught:
        resolve_timezone("Nowhere/Special")
    assert caught.value.message == "setting timezone: unknown time zone 'Nowhere/Special'"
