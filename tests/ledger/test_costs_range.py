"""The Costs page over a range of days the person chose (From / To): every figure, the charts,
the audit table and the export follow it, days are the workspace's days (as the ledger's
``--since`` / ``--until`` read them), the page and the API agree, the filters stay in the URL,
and a bad range is a 422 page naming the field and the fix."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from tests.ledger.logtools import claude_assistant, claude_transcript

from stagent.web.app import create_app
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client

ZONE = "America/Los_Angeles"
NOW = datetime(2026, 12, 7, 18, tzinfo=UTC)  # 10:00 on Monday 7 December in Los Angeles
CALLS = {
    # (UTC instant, input tokens): Sonnet 4.5 input is $3 per million, no output
    # summer time (UTC-7) ends at 02:00 on 1 November 2026
    "m-oct31": ("2026-11-01T06:30:00Z", 100_000),  # 23:30 on 31 October in LA: October
    "m-nov01": ("2026-11-01T07:30:00Z", 10_000),  # 00:30 on 1 November: $0.03
    "m-nov15": ("2026-11-15T20:00:00Z", 20_000),  # noon on 15 November: $0.06
    "m-nov30": ("2026-12-01T07:30:00Z", 40_000),  # 23:30 on 30 November: $0.12
    "m-dec02": ("2026-12-02T20:00:00Z", 200_000),  # 2 December: $0.60
}
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with Workspace.temporary(tmp_path / "ws", timezone=ZONE).open() as ws:
        ws.ledger.clock = lambda: NOW
        config = tmp_path / "claude"
        claude_transcript(
            config,
            [
                claude_assistant(key, f"r-{key}", input_tokens=tokens, output_tokens=0,
                                 timestamp=stamp)
                for key, (stamp, tokens) in CALLS.items()
            ],
        )  # fmt: skip
        (plan,) = ws.ledger.import_plans("claude-code", config)
        assert ws.ledger.run_import(plan).as_json()["calls_added"] == len(CALLS)
        yield ws


@pytest.fixture
async def client(ws: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(ws)) as client:
        yield client


async def _page(client: httpx.AsyncClient, **params: str) -> BeautifulSoup:
    page = await client.get("/costs", params=params)
    assert page.status_code == 200, page.text[-2000:]
    return BeautifulSoup(page.text, "html.parser")


def _text(soup: BeautifulSoup, selector: str) -> str:
    found = soup.select_one(selector)
    assert found is not None, selector
    return " ".join(found.get_text().split())


def _spend_card(soup: BeautifulSoup) -> str:
    return _text(soup, ".metrics article.metric")


def _chart_days(soup: BeautifulSoup) -> list[str]:
    return json.loads(_text(soup, "#costs-data"))["labels"]


def _audit_rows(soup: BeautifulSoup) -> list[str]:
    return [" ".join(r.get_text().split()) for r in soup.select("table.audit tbody tr")]


async def test_november_shows_novembers_calls_in_every_part_of_the_page(
    client: httpx.AsyncClient,
) -> None:
    soup = await _page(client, **NOVEMBER)
    assert _text(soup, "#costs-window") == "2026-11-01 to 2026-11-30 (30 days, America/Los_Angeles)"
    card = _spend_card(soup)
    assert card.startswith("Spend, 30 days $0.21") and "3 calls" in card  # not 23:30 on Oct 31
    days = _chart_days(soup)
    assert (days[0], days[-1], len(days)) == ("2026-11-01", "2026-11-30", 30)
    assert len(_audit_rows(soup)) == 3
    assert "$0.21" in _text(soup, ".breakdowns")  # by model, runtime, source: the same calls
    # the chosen days stay in the fields, no preset is marked, the export covers November
    assert soup.select_one('input[name="since"]')["value"] == "2026-11-01"  # type: ignore[index]
    assert soup.select_one('input[name="until"]')["value"] == "2026-11-30"  # type: ignore[index]
    assert soup.select_one(".range-presets [aria-current]") is None
    link = soup.find("a", string="Export CSV")
    assert link is not None
    exported = await client.get(str(link["href"]))
    assert sorted(row["input_tokens"] for row in csv.DictReader(io.StringIO(exported.text))) == [
        "10000",
        "20000",
        "40000",
    ]


async def test_a_few_days_and_one_day(client: httpx.AsyncClient) -> None:
    first_days = await _page(client, since="2026-11-01", until="2026-11-03")
    assert _spend_card(first_days).startswith("Spend, 3 days $0.03")
    assert _chart_days(first_days) == ["2026-11-01", "2026-11-02", "2026-11-03"]
    one = await _page(client, since="2026-11-30", until="2026-11-30")
    assert _spend_card(one).startswith("Spend, 1 day $0.12")
    assert len(_audit_rows(one)) == 1
    nothing = await _page(client, since="2026-11-20", until="2026-11-25")
    assert "No provider calls in this range" in _text(nothing, "article.notice")
    assert _audit_rows(nothing) == ["No calls in this range."]
    # the notice says it once: no wall of empty breakdowns and cost-per-task tables under it
    headings = [h.get_text(strip=True) for h in nothing.select("h2")]
    assert "By model" not in headings and "Cost per task" not in headings
    assert "Month-end forecast against each cap" in headings and nothing.select("#by-profile") == []
    assert "By model" in [h.get_text(strip=True) for h in one.select("h2")]


async def test_a_range_open_at_one_end(client: httpx.AsyncClient) -> None:
    """From alone runs to today; To alone reaches back the preset's days."""
    since_nov30 = await _page(client, since="2026-11-30")
    assert _text(since_nov30, "#costs-window").startswith("2026-11-30 to 2026-12-07 (8 days")
    assert _spend_card(since_nov30).startswith("Spend, 8 days $0.72")
    week_to_nov15 = await _page(client, until="2026-11-15", days="7")
    assert _chart_days(week_to_nov15)[0] == "2026-11-09"
    assert _spend_card(week_to_nov15).startswith("Spend, 7 days $0.06")


async def test_the_page_and_the_api_agree_on_a_range(client: httpx.AsyncClient) -> None:
    for bounds in (
        NOVEMBER,
        {"since": "2026-10-31", "until": "2026-11-01"},
        {"since": "2026-12-01"},
    ):
        soup = await _page(client, **bounds)
        summary = (await client.get("/api/v1/ledger/summary", params=bounds)).json()
        metrics = (await client.get("/api/v1/ledger/metrics", params=bounds)).json()
        rows = (await client.get("/api/v1/ledger", params=bounds)).json()
        page_calls = len(_audit_rows(soup))
        assert summary["totals"]["requests"] == metrics["totals"]["requests"] == page_calls
        assert rows["count"] == page_calls
        assert summary["totals"]["total_cost_micros"] == metrics["totals"]["total_cost_micros"]
        assert [d["day"] for d in metrics["daily"]] == _chart_days(soup)
        page_data = json.loads(_text(soup, "#costs-data"))
        assert (
            sum(sum(v) for v in page_data["by_runtime"].values())
            == (summary["totals"]["total_cost_micros"])
        )


async def test_velocity_is_about_now_whatever_the_window(client: httpx.AsyncClient) -> None:
    """The 7- and 30-day averages are the last 7 and 30 days, also over October or a week."""
    month = (await client.get("/api/v1/ledger/metrics", params={"days": 30})).json()["velocity"]
    assert month["spend_per_day_30d_micros"] == (60_000 + 120_000 + 600_000) // 30
    assert month["spend_per_day_7d_micros"] == 600_000 // 7
    week = (await client.get("/api/v1/ledger/metrics", params={"days": 7})).json()["velocity"]
    october = (
        await client.get(
            "/api/v1/ledger/metrics", params={"since": "2026-10-01", "until": "2026-10-31"}
        )
    ).json()
    assert week == october["velocity"] == month
    assert october["totals"]["total_cost_micros"] == 300_000


async def test_the_filters_stay_in_the_url(client: httpx.AsyncClient) -> None:
    soup = await _page(client, runtime="claude", source="import:claude-code", **NOVEMBER)
    presets = soup.select(".range-presets a")
    assert [a.get_text() for a in presets] == ["7 days", "30 days", "90 days", "365 days"]
    for a in presets:  # a preset keeps the other filters and leaves the chosen days
        assert "runtime=claude" in a["href"] and "source=import%3Aclaude-code" in a["href"]
        assert "since=" not in a["href"]
    selected = soup.select_one('select[name="runtime"] option[selected]')
    assert selected is not None and selected.get_text() == "claude"
    link = str(soup.find("a", string="Export CSV")["href"])  # type: ignore[index]
    assert "since=2026-11-01" in link and "until=2026-11-30" in link and "runtime=claude" in link
    preset = await _page(client, days="7")
    current = preset.select(".range-presets [aria-current]")
    assert [a.get_text() for a in current] == ["7 days"]
    assert _spend_card(preset).startswith("Spend, 7 days $0.60")
    assert preset.select_one('input[name="since"]')["value"] == ""  # type: ignore[index]


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"since": "2026-11-30", "until": "2026-11-01"},
         ["To: 2026-11-01 is before From (2026-11-30)", "a To day on or after the From day"]),
        ({"since": "2026-13-45"}, ["From: '2026-13-45' is not a date", "2026-11-30"]),
        ({"until": "next week"}, ["To: 'next week' is not a date", "2026-11-30"]),
        ({"since": "2024-01-01", "until": "2026-11-30"},
         ["From: 2024-01-01 to 2026-11-30 is 1,065 days, longer than 366", "narrow the range"]),
        ({"since": "2027-01-01"}, ["From: 2027-01-01 is after today (2026-12-07)"]),
        ({"until": "9999-12-31"}, ["To: '9999-12-31' is out of range"]),
        ({"since": "0001-01-01"}, ["From: 0001-01-01 to 2026-12-07 is", "longer than 366"]),
    ],
)  # fmt: skip
async def test_a_bad_range_is_said_on_the_page_naming_the_field_and_the_fix(
    client: httpx.AsyncClient, params: dict[str, str], said: list[str]
) -> None:
    page = await client.get("/costs", params=params)
    assert page.status_code == 422, page.text[-2000:]
    soup = BeautifulSoup(page.text, "html.parser")
    text = _text(soup, "#range-problem [role=alert]")
    for words in said:
        assert words in text
    # the Costs page itself, its fields keeping the days typed, to fix them there
    assert _text(soup, "#range-problem").endswith("Below: the last 30 days.")
    for field in ("since", "until"):
        typed = params.get(field, "")
        shown = soup.select_one(f'form.filters input[name="{field}"]')
        assert shown is not None and shown["value"] == (typed if len(typed) == 10 else "")


async def test_the_api_refuses_a_bad_range_too(client: httpx.AsyncClient) -> None:
    reversed_ = await client.get(
        "/api/v1/ledger/metrics", params={"since": "2026-11-30", "until": "2026-11-01"}
    )
    assert reversed_.status_code == 422
    assert reversed_.json()["error"] == "until: 2026-11-01 is before since (2026-11-30)"
    for path in ("/api/v1/ledger/summary", "/api/v1/ledger", "/api/v1/ledger/export.csv"):
        far = await client.get(path, params={"until": "9999-12-31"})
        assert far.status_code == 422, path
        assert "out of range" in far.json()["error"]
