"""Money on the pages, one rule (`shown_usd`, the templates' ``usd`` filter): to the cent from a
cent up, two significant digits below (a call that cost something never reads $0.00), nothing is
$0.00; the Costs page shows every amount by it, a simulated call says so."""

from __future__ import annotations

import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.ledger.money import shown_usd
from stagent.web.app import create_app
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client

AMOUNT = re.compile(r"-?\$[0-9][0-9,.]*")
RULE = re.compile(r"-?\$(?:\d{1,3}(?:,\d{3})*\.\d{2}|0\.00[0-9]*[1-9][0-9]?)")
"""What the rule writes: cents (``$1,204.50``, ``$0.00``) or a sub-cent amount with at most
two significant digits (``$0.0042``, ``$0.000013``)."""


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "$0.00"),
        (1, "$0.000001"),
        (12, "$0.000012"),
        (4_237, "$0.0042"),
        (4_250, "$0.0043"),  # half up
        (5_000, "$0.005"),
        (9_949, "$0.0099"),
        (9_960, "$0.01"),  # two significant digits round up to a cent
        (10_000, "$0.01"),
        (13_250, "$0.01"),
        (17_750, "$0.02"),
        (123_456, "$0.12"),
        (2_006_904, "$2.01"),
        (1_204_500_000, "$1,204.50"),
        (-4_237, "-$0.0042"),
    ],
)
def test_one_rule_for_amounts_on_pages(micros: int, shown: str) -> None:
    assert shown_usd(micros) == shown
    assert RULE.fullmatch(shown)


@pytest.fixture
async def client(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(workspace)) as client:
        yield client


async def test_every_amount_on_the_costs_page_follows_the_rule(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    small = workspace.tasks.create(TaskDraft(title="Small call", runtime="metered"))
    # gpt-5 input is $1.25 per million: 3,360 tokens cost $0.0042, 7,920 tokens $0.0099
    workspace.budgets.record_usage(small, UsageEvent(model="gpt-5", input_tokens=3_360))
    workspace.budgets.record_usage(small, UsageEvent(model="gpt-5", input_tokens=7_920))
    rehearsal = workspace.tasks.create(TaskDraft(title="Rehearsal"))  # the scripted runtime
    workspace.budgets.record_usage(rehearsal, UsageEvent(model="scripted-1", input_tokens=50))

    page = await client.get("/costs")
    assert page.status_code == 200
    soup = BeautifulSoup(page.text, "html.parser")
    main = soup.select_one("main")
    assert main is not None
    amounts = AMOUNT.findall(main.get_text(" "))
    assert amounts, "the page shows amounts"
    assert [a for a in amounts if not RULE.fullmatch(a)] == []
    card = " ".join(soup.select_one(".metrics article.metric").get_text().split())  # type: ignore[union-attr]
    assert card.startswith("Spend, 30 days $0.01 2 calls")  # the rehearsal is not spend

    costs = [" ".join(td.get_text().split()) for td in soup.select("table.audit [data-label=Cost]")]
    assert sorted(costs) == ["$0.0042", "$0.0099", "simulated"]  # none reads $0.00
    rehearsal_row = soup.select_one(f'table.audit tr:has(a[href="/tasks/{rehearsal.id}"])')
    assert rehearsal_row is not None and "simulated" in rehearsal_row.get_text()
    by_model = {
        " ".join(tr.select("td")[0].get_text().split()): tr.select("td")[3].get_text()
        for tr in soup.select("section:has(> h2:-soup-contains('By model')) tbody tr")
    }
    assert by_model == {"gpt-5": "$0.01"}  # $0.0141, to the cent like the card
    # the spend chart's tooltips read the same figures
    assert '"by_runtime_text": {"metered": [' in page.text and '"$0.01"]' in page.text
