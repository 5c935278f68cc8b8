"""The Board with thousands of tasks: each column counts every task (not the newest 500), shows
its newest cards and a "Show more" button that brings the next ones until every task was
shown; the table pages the same way; hidden workflow steps stay out of both."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
from sqlalchemy import insert

from stagent.store.tables import TaskRow
from stagent.web.ui.views import PER_COLUMN, TABLE_PAGE
from stagent.workspace import Workspace

NOW = datetime.now(UTC).replace(microsecond=0)
MORE = re.compile(r'hx-get="(/ui/board/more\?[^"]+)"')


def fill(ws: Workspace, completed: int, failed: int) -> None:
    """``completed`` + ``failed`` ended tasks and 3 planned ones, bulk-inserted; several share
    a creation time (the order then goes by id)."""
    rows = []
    for n in range(completed + failed + 3):
        status = "completed" if n < completed else "failed" if n < completed + failed else "planned"
        at = NOW - timedelta(seconds=(n // 3))
        rows.append(
            {"id": f"tsk_scale{n:06d}", "title": f"Scaled task {n}", "status": status,
             "runtime": "scripted", "options": {}, "created_at": at, "updated_at": at}
        )  # fmt: skip
    with ws.store.write() as session:
        session.execute(insert(TaskRow), rows)


def column_html(page: str, key: str) -> str:
    start = page.index(f'id="col-{key}"')
    return page[start : page.index("</section>", start)]


def counts(page: str) -> dict[str, str]:
    return dict(re.findall(r'<h2>(\w+)</h2> <span class="count">([\d,]+)</span>', page))


async def test_columns_count_every_task_and_show_more_reaches_them_all(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    fill(workspace, completed=1_234, failed=7)
    page = (await client.get("/board")).text
    assert counts(page) == {
        "Planned": "3", "Queued": "0", "Running": "0", "Waiting": "0",
        "Completed": "1,234", "Failed": "7", "Cancelled": "0",
    }  # fmt: skip
    completed = column_html(page, "completed")
    seen = re.findall(r'id="card-(tsk_scale\d+)"', completed)
    assert len(seen) == PER_COLUMN
    assert f"Show {PER_COLUMN} more" in completed and "of 1,184 not shown" in completed
    assert "Show" not in column_html(page, "failed")  # 7 cards: all shown
    url = unescape(MORE.findall(completed)[0])
    pages = 0
    while url:
        answer = (await client.get(url)).text
        seen += re.findall(r'id="card-(tsk_scale\d+)"', answer)
        found = MORE.findall(answer)
        url = unescape(found[0]) if found else ""
        pages += 1
    assert len(seen) == len(set(seen)) == 1_234
    assert seen == sorted(seen)  # newest first = by id here (the oldest have the largest ids)
    assert pages == (1_234 - 1) // PER_COLUMN


async def test_the_table_pages_through_every_task(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    fill(workspace, completed=240, failed=0)
    page = (await client.get("/board?view=table")).text
    table = page[page.index('class="table-view"') :]
    rows = re.findall(r'<tr id="row-(tsk_scale\d+)"', table)
    assert len(rows) == TABLE_PAGE
    assert "of 143 not shown" in table
    url = unescape(MORE.findall(table)[0])
    while url:
        answer = (await client.get(url)).text
        rows += re.findall(r'<tr id="row-(tsk_scale\d+)"', answer)
        found = MORE.findall(answer)
        url = unescape(found[0]) if found else ""
    assert len(rows) == len(set(rows)) == 243


async def test_a_column_counting_a_task_it_has_no_card_for_still_renders(
    workspace: Workspace, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts and the newest cards are two reads: a task that changes column between them
    leaves a column counting a task it shows no card for. The Board still renders (it was a
    500: the "Show more" button looked for the column's last card), without a button."""
    fill(workspace, completed=3, failed=0)
    monkeypatch.setattr(workspace.tasks, "board_newest", lambda *args, **kwargs: [])
    response = await client.get("/board")
    assert response.status_code == 200
    assert counts(response.text)["Completed"] == "3"
    assert "not shown" not in column_html(response.text, "completed")
