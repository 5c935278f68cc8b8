"""What a person reads in a task's log and on Monitor: rules and schedules by their words (a
rule's text, a schedule's name and firing time), linked to where they live, never their ids;
a live run's cost as what it booked so far; model ids kept whole in narrow cells."""

from __future__ import annotations

import httpx
from bs4 import BeautifulSoup
from webtools import wait_for_status

from stagent.domain.events import LoggedEvent
from stagent.web.ui.fragments import log_line
from stagent.web.ui.templating import whole
from stagent.workspace import Workspace

SCHEDULED = {
    "message": "started by schedule 'Morning <digest>' (firing due 2026-12-07 09:00:00 UTC)",
    "schedule": "Morning <digest>",
    "schedule_id": "sch_0123456789ab",
    "firing_id": "fir_0123456789ab_1796029200",
}


def _line(kind: str, payload: dict[str, object]) -> BeautifulSoup:
    html = log_line(LoggedEvent(seq=1, task_id="tsk_1", kind=kind, payload=payload))  # type: ignore[arg-type]
    return BeautifulSoup(html, "html.parser")


def test_a_scheduled_task_names_its_schedule_and_links_it() -> None:
    line = _line("note", SCHEDULED)
    text = line.select_one(".text")
    assert text is not None
    assert text.get_text() == (
        "started by schedule Morning <digest> (firing due 2026-12-07 09:00:00 UTC)"
    )
    link = text.select_one("a")
    assert link is not None and link["href"] == "/schedules/sch_0123456789ab"
    assert "<digest>" not in str(text)  # the name is escaped


def test_a_rule_decision_shows_the_rule_and_links_the_permissions() -> None:
    line = _line(
        "note",
        {
            "message": "Bash allowed by project rule `Bash(git status *)`",
            "tool": "Bash",
            "allowed": True,
            "decided_by": "project rule `Bash(git status *)`",
        },
    )
    text = line.select_one(".text")
    assert text is not None
    assert text.get_text() == "Bash allowed by project rule Bash(git status *)"
    link = text.select_one("a")
    assert link is not None and link["href"] == "/settings/permissions"
    assert link.select_one("code") is not None


def test_a_person_s_decision_links_nothing() -> None:
    line = _line("note", {"message": "Write allowed by person (via UI)", "decided_by": "person"})
    text = line.select_one(".text")
    assert text is not None and text.select_one("a") is None
    assert text.get_text() == "Write allowed by person (via UI)"


WRITE_AFTER_A_CALL = {
    "name": "changelog",
    "steps": [
        {"usage": {"model": "scripted-1", "input_tokens": 9, "output_tokens": 5, "cost_usd": 0.12}},
        {"tool": "Write", "input": {"file_path": "CHANGELOG.md", "content": "- fixed\n"}},
    ],
    "result": "done",
}


def _cost(page: str) -> str:
    found = BeautifulSoup(page, "html.parser").select_one(".run-cost")
    assert found is not None
    return " ".join(found.get_text().split())


async def test_a_waiting_run_shows_what_it_booked_so_far(
    worker: Workspace, worker_client: httpx.AsyncClient
) -> None:
    created = await worker_client.post(
        "/api/v1/tasks", json={"title": "Update the changelog", "scenario": WRITE_AFTER_A_CALL}
    )
    task_id = created.json()["id"]
    await worker_client.post(f"/api/v1/tasks/{task_id}/run")
    await wait_for_status(worker_client, task_id, {"waiting"}, timeout=60)
    assert _cost((await worker_client.get(f"/tasks/{task_id}")).text) == "$0.12 so far"
    monitor = BeautifulSoup((await worker_client.get("/monitor")).text, "html.parser")
    (row,) = monitor.select("table.agents tbody tr")  # a waiting agent is still an active one
    cells = [" ".join(td.get_text().split()) for td in row.select("td")]
    assert cells[0] == "Update the changelog waiting for you"
    assert cells[-1] == "$0.12 simulated"  # the scripted runtime's spend is simulated
    assert "1 waiting for you" in monitor.select_one(".metrics").get_text()
    (card,) = worker.approvals.list_pending(task_id=task_id)
    worker.approvals.allow(card.id, by="person")
    await wait_for_status(worker_client, task_id, {"completed"}, timeout=60)
    assert _cost((await worker_client.get(f"/tasks/{task_id}")).text) == "$0.12"


async def test_a_scripted_agent_that_booked_nothing_yet_is_simulated_not_zero_dollars(
    worker: Workspace, worker_client: httpx.AsyncClient
) -> None:
    """The rule of a workflow step's and a firing's cost: the runtime decides, not the rows."""
    scenario = {"steps": WRITE_AFTER_A_CALL["steps"][1:], "result": "done"}
    created = await worker_client.post(
        "/api/v1/tasks", json={"title": "Write first", "scenario": scenario}
    )
    task_id = created.json()["id"]
    await worker_client.post(f"/api/v1/tasks/{task_id}/run")
    await wait_for_status(worker_client, task_id, {"waiting"}, timeout=60)
    monitor = BeautifulSoup((await worker_client.get("/monitor")).text, "html.parser")
    (row,) = monitor.select("table.agents tbody tr")
    assert " ".join(row.select("td")[-1].get_text().split()) == "simulated"
    (card,) = worker.approvals.list_pending(task_id=task_id)
    worker.approvals.allow(card.id, by="person")
    await wait_for_status(worker_client, task_id, {"completed"}, timeout=60)


def test_a_model_id_is_one_unbreakable_word_or_breaks_only_before_its_date() -> None:
    assert str(whole("claude-sonnet-4-5")) == '<span class="whole">claude-sonnet-4-5</span>'
    assert str(whole("claude-sonnet-4-5-20250929")) == (
        '<span class="whole">claude-sonnet-4-5</span><wbr><span class="whole">-20250929</span>'
    )
    assert str(whole("<b>")) == '<span class="whole">&lt;b&gt;</span>'
    assert str(whole(None)) == ""  # nothing: the cell stays :empty (a phone's stacked row hides it)
