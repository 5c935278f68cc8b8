"""Home's five status cards with their seven-day sparklines, the welcome of an empty workspace,
and the 24-hour activity bars."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup
from sqlalchemy import insert

from stagent.engine.executor import RunContext, execute_task_run
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.ledger.home import day_starts, overlapping, per_day
from stagent.store import lifecycle
from stagent.store.tables import TaskRow
from stagent.web.app import create_app
from stagent.web.ui.home_costs import bars
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client, with_csrf


@pytest.fixture
async def client(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(workspace)) as client:
        yield await with_csrf(client)


def cards(ws: Workspace, waiting: int = 0) -> dict[str, dict[str, object]]:
    return {card["key"]: card for card in ws.ledger.home(waiting)["cards"]}


def queue(ws: Workspace, title: str, project_id: str | None) -> str:
    task = ws.tasks.create(
        TaskDraft(title=title, project=project_id, scenario={"steps": [{"text": "ok"}]})
    )
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    return task.id


def test_an_empty_workspace_has_zero_cards_and_a_welcome(workspace: Workspace) -> None:
    data = workspace.ledger.home(0)
    assert data["empty"] is True
    assert [c["key"] for c in data["cards"]] == [
        "running", "completed", "waiting", "projects", "workflows",
    ]  # fmt: skip
    assert all(c["value"] == 0 and c["series"] == [0] * 7 for c in data["cards"])
    today = datetime.now(UTC).astimezone(workspace.ledger.zone).date().isoformat()
    assert len(data["days"]) == 7 and data["days"][-1] == today


def test_cards_count_running_completed_projects_and_waiting(workspace: Workspace) -> None:
    project = workspace.projects.create("site")
    done = queue(workspace, "finished", project.id)
    ctx = RunContext(store=workspace.store, runtimes=workspace.runtimes, gate=workspace.gate)
    assert asyncio.run(execute_task_run(ctx, done, 1)) == "completed"
    running = queue(workspace, "still going", project.id)
    with workspace.store.write() as session:
        assert lifecycle.claim(session, running, 1) is not None
    queue(workspace, "queued, not started", None)

    data = workspace.ledger.home(3)
    assert data["empty"] is False
    by = {c["key"]: c for c in data["cards"]}
    assert by["running"]["value"] == 1
    assert by["running"]["series"][-1] == 2  # both runs were running at some time today
    assert by["completed"]["value"] == 1 and by["completed"]["detail"] == "1 ever"
    assert by["completed"]["series"] == [0] * 6 + [1]
    assert by["projects"]["value"] == 1 and by["projects"]["series"][-1] == 1
    assert by["waiting"]["value"] == 3
    assert by["workflows"]["value"] == 0


def test_days_are_local_and_spans_count_on_every_day_they_touch() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("America/New_York")
    now = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # still Dec 5 in New York
    starts = day_starts(now, zone)
    assert starts[-2].date().isoformat() == "2026-12-05" and len(starts) == 8
    two_days = (starts[4] + timedelta(hours=20), starts[6] + timedelta(hours=1))
    assert overlapping([two_days, (starts[6], None)], starts) == [0, 0, 0, 0, 1, 1, 2]
    assert per_day([starts[0], starts[6] + timedelta(hours=23), starts[7]], starts) == [
        1, 0, 0, 0, 0, 0, 1,
    ]  # fmt: skip


def test_activity_bars_scale_to_the_busiest_hour() -> None:
    drawn = bars([0, 5, 10], width=30, height=50)
    assert [b["h"] for b in drawn] == [1.0, 24.0, 48.0]  # an empty hour is a flat bar
    assert [b["x"] for b in drawn] == [1.0, 11.0, 21.0] and drawn[2]["y"] == 2.0


async def test_home_shows_the_welcome_until_there_is_work_then_the_cards(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    empty = (await client.get("/")).text
    assert 'id="welcome"' in empty and 'href="/board"' in empty and "stagent " not in empty
    for label in ("Running", "Completed today", "Waiting for you", "Active projects",
                  "Workflows active", "Agent activity, last 24 hours"):  # fmt: skip
        assert label in empty
    workspace.tasks.create(TaskDraft(title="first"))
    page = (await client.get("/")).text
    assert 'id="welcome"' not in page
    assert "Created" in page or "first" in page


async def test_tasks_by_status_counts_every_task_not_the_newest_500(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"tsk_home{n:05d}",
            "title": f"task {n}",
            "status": "completed" if n < 1_000 else "planned",
            "runtime": "scripted",
            "options": {},
            "created_at": now - timedelta(minutes=1_200 - n),
            "updated_at": now - timedelta(minutes=1_200 - n),
        }
        for n in range(1_200)
    ]
    with workspace.store.write() as session:
        session.execute(insert(TaskRow), rows)
    soup = BeautifulSoup((await client.get("/")).text, "html.parser")
    stats = {
        a["href"]: a.select_one(".stat-n").get_text()  # type: ignore[union-attr]
        for a in soup.select("a.stat")
    }
    assert stats["/board?column=completed"] == "1,000"
    assert stats["/board?column=planned"] == "200"
    assert "1,200 tasks in 0 projects" in soup.get_text(" ", strip=True)
    recent = [a.get_text() for a in soup.select("ul.recent a")]
    assert recent[:2] == ["task 1199", "task 1198"] and len(recent) == 8
