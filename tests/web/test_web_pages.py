"""Pages and htmx actions render through the in-process client."""

from __future__ import annotations

import re

import httpx
import pytest
from bs4 import BeautifulSoup, Tag

from stagent.web.ui.surfaces import NOT_BUILT, SURFACES


def soup(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:2000]
    return BeautifulSoup(response.text, "html.parser")


def one(page: BeautifulSoup, selector: str) -> Tag:
    """The element ``selector`` matches (failing if there is none)."""
    found = page.select_one(selector)
    assert found is not None, f"nothing matches {selector}"
    return found


async def new_task(client: httpx.AsyncClient, title: str = "A task", **extra: object) -> str:
    response = await client.post("/api/v1/tasks", json={"title": title, **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_navigation_links_every_surface(client: httpx.AsyncClient) -> None:
    page = soup(await client.get("/"))
    links = {a["href"] for a in page.select("aside nav a")}
    expected = {s.path for s in SURFACES if s.in_nav}
    assert links == expected and len(expected) == 14
    # The fifteenth surface, Task detail, is reached from the Board's cards.
    assert {s.key for s in SURFACES} >= {"task", "board"} and len(SURFACES) == 15


@pytest.mark.parametrize("key", sorted(NOT_BUILT))
async def test_not_built_pages_say_so_honestly(client: httpx.AsyncClient, key: str) -> None:
    surface = NOT_BUILT[key]
    page = soup(await client.get(surface.path))
    text = page.get_text(" ")
    assert "Not built yet" in text
    assert surface.brought_by.split(" (")[0] in text
    assert page.select_one(f'aside a[href="{surface.path}"][aria-current="page"]')


async def test_pages_reference_only_local_assets(client: httpx.AsyncClient) -> None:
    page = soup(await client.get("/board"))
    refs = [t.get("src") for t in page.find_all("script")]
    refs += [t.get("href") for t in page.find_all("link")]
    assert refs and all(str(r).startswith("/static/") for r in refs), refs
    assert not re.search(r"https?://", str(page.head))
    for ref in refs:
        assert (await client.get(str(ref))).status_code == 200, ref


async def test_board_renders_columns_cards_and_both_views(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/projects", json={"name": "Proj"})
    task_id = await new_task(client, "Card one", project="Proj")
    page = soup(await client.get("/board"))
    columns = [c["id"] for c in page.select(".kanban .column")]
    assert columns == [
        "col-planned",
        "col-queued",
        "col-running",
        "col-waiting",
        "col-completed",
        "col-failed",
        "col-cancelled",
    ]
    card = page.select_one(f"#col-planned #card-{task_id}")
    assert card is not None and "Card one" in card.get_text()
    assert card.select_one(".badge.simulated") is not None
    assert "Proj" in card.get_text()
    assert one(page, "#board")["data-view"] == "kanban"
    assert page.select_one(f".table-view #row-{task_id}") is not None
    main = page.select_one("[sse-connect]")
    assert main is not None and str(main["sse-connect"]).startswith("/ui/stream?after=")
    assert "topics=board" in str(main["sse-connect"])
    planned = page.select_one("#col-planned .col-cards")
    assert planned is not None and planned["data-accepts"] == "cancelled completed failed queued"
    option = one(page, '#new-task select[name=runtime] option[value="scripted"]')
    assert option.get_text().lower().count("simulated") == 1
    table = soup(await client.get("/board?view=table"))
    assert one(table, "#board")["data-view"] == "table"
    assert (await client.get("/board?view=grid")).status_code == 422


async def test_board_form_creates_a_task(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/ui/tasks",
        data={
            "title": "From the form",
            "runtime": "scripted",
            "priority": "1",
            "scenario": "steps:\n  - text: hello\nresult: done\n",
        },
    )
    fragment = soup(response)
    assert response.headers["HX-Trigger"] == "task-created"
    assert "From the form" in one(fragment, "#col-planned").get_text()
    task = (await client.get("/api/v1/tasks")).json()["data"][0]
    assert task["priority"] == 1


async def test_board_form_reports_a_bad_scenario_with_its_line(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/ui/tasks",
        data={"title": "t", "scenario": "steps:\n  - text: ok\n  - sing: la\n"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "scenario:3" in response.text and "steps[1]" in response.text
    bad_yaml = await client.post("/ui/tasks", data={"title": "t", "scenario": "steps: [\n"})
    assert bad_yaml.status_code == 422 and "line" in bad_yaml.text


async def test_card_actions(queue_client: httpx.AsyncClient) -> None:
    client = queue_client
    task_id = await new_task(client)
    board = soup(await client.post(f"/ui/tasks/{task_id}/run", data={"view": "board"}))
    assert board.select_one(f"#col-queued #card-{task_id}") is not None
    board = soup(await client.post(f"/ui/tasks/{task_id}/cancel", data={"view": "board"}))
    assert board.select_one(f"#col-cancelled #card-{task_id}") is not None
    board = soup(await client.post(f"/ui/tasks/{task_id}/delete", data={"view": "board"}))
    assert board.select_one(f"#card-{task_id}") is None


async def test_task_detail_page(client: httpx.AsyncClient) -> None:
    task_id = await new_task(client, "Detail me", description="the details")
    page = soup(await client.get(f"/tasks/{task_id}"))
    head = page.select_one("#task-head")
    assert head is not None and head["sse-swap"] == f"task-{task_id}"
    assert "Detail me" in head.get_text() and "the details" in head.get_text()
    assert head.select_one(".badge.status-planned") is not None
    log = page.select_one("#task-log")
    assert log is not None and log["sse-swap"] == f"task-{task_id}-log"
    assert log["hx-swap"] == "beforeend"
    assert "task created: Detail me" in log.get_text()
    assert f"topics=task:{task_id}" in str(one(page, "[sse-connect]")["sse-connect"])


async def test_task_edit_and_actions_from_the_detail_page(client: httpx.AsyncClient) -> None:
    task_id = await new_task(client, "Before")
    edited = await client.post(
        f"/ui/tasks/{task_id}/edit",
        data={"title": "After", "description": "new", "priority": "3", "runtime": "scripted"},
    )
    head = soup(edited)
    assert "After" in head.get_text() and "P3" in head.get_text()
    cancelled = soup(await client.post(f"/ui/tasks/{task_id}/cancel", data={"view": "task"}))
    assert cancelled.select_one(".badge.status-cancelled") is not None
    deleted = await client.post(f"/ui/tasks/{task_id}/delete", data={"view": "task"})
    assert deleted.status_code == 204 and deleted.headers["HX-Redirect"] == "/board"


async def test_projects_pages(client: httpx.AsyncClient) -> None:
    empty = soup(await client.get("/projects"))
    assert "No projects yet" in empty.get_text()
    table = soup(await client.post("/ui/projects", data={"name": "Website", "description": "d"}))
    assert "Website" in table.get_text()
    project = (await client.get("/api/v1/projects/Website")).json()
    await new_task(client, "Site task", project="Website")
    listing = soup(await client.get("/projects"))
    row = listing.select_one(f"#project-{project['id']}")
    assert row is not None and "Planned 1" in row.get_text(" ")
    detail = soup(await client.get(f"/projects/{project['id']}"))
    assert "Site task" in one(detail, "#project-tasks").get_text()
    duplicate = await client.post("/ui/projects", data={"name": "Website"})
    assert duplicate.status_code == 409
    deleted = await client.post(f"/ui/projects/{project['id']}/delete")
    assert deleted.headers["HX-Redirect"] == "/projects"
    assert (await client.get(f"/projects/{project['id']}")).status_code == 404


async def test_home_and_settings(client: httpx.AsyncClient) -> None:
    await new_task(client, "Recent one")
    home = soup(await client.get("/"))
    assert "Recent one" in home.get_text()
    stat = home.select_one(".stat.status-planned .stat-n")
    assert stat is not None and stat.get_text() == "1"
    settings = soup(await client.get("/settings"))
    text = settings.get_text(" ")
    assert "sqlite:///" in text and "scripted" in text and "simulated" in text
