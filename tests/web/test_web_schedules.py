"""``/api/v1/schedules`` and the Schedules pages, in process: the same object as the CLI's
--json, the not-built targets refused plainly, the form's preview, and escaped prompts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from stagent.cli.app import app as cli_app
from stagent.domain.schedules import FiringStatus, firing_id
from stagent.domain.workflow_files import parse_definition
from stagent.store import ledger as ledger_repo
from stagent.store import schedules as schedule_repo
from stagent.store import tasks as task_repo
from stagent.testing.workflows import step
from stagent.workspace import Workspace

BODY = {"name": "digest", "prompt": "Summarize", "every": "weekday at 9am", "tz": "Europe/Berlin"}


async def test_create_show_edit_pause_resume_and_delete(client: httpx.AsyncClient) -> None:
    created = await client.post("/api/v1/schedules", json=BODY)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["when"]["cron"] == "0 9 * * 1-5" and schedule["status"] == "active"
    assert len(schedule["upcoming"]) == 5 and schedule["firings"] == []
    sid = schedule["id"]
    edited = await client.patch(f"/api/v1/schedules/{sid}", json={"max_firings": 2})
    assert edited.status_code == 200 and edited.json()["upcoming"] == schedule["upcoming"][:2]
    paused = await client.post(f"/api/v1/schedules/{sid}/pause")
    assert paused.json()["status"] == "paused" and paused.json()["next_fire_at"] is None
    again = await client.post(f"/api/v1/schedules/{sid}/pause")
    assert again.status_code == 409 and "only an active schedule" in again.json()["error"]
    resumed = await client.post(f"/api/v1/schedules/{sid}/resume")
    assert resumed.json()["status"] == "active"
    listed = (await client.get("/api/v1/schedules")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == sid
    assert (await client.delete(f"/api/v1/schedules/{sid}")).status_code == 204
    assert (await client.get(f"/api/v1/schedules/{sid}")).status_code == 404


async def test_the_api_and_the_cli_return_the_same_schedule(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    sid = (await client.post("/api/v1/schedules", json=BODY)).json()["id"]
    api = (await client.get(f"/api/v1/schedules/{sid}")).json()
    home = str(workspace.settings.home)
    result = CliRunner().invoke(cli_app, ["--home", home, "schedule", "show", sid, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == api


async def test_workflow_targets_and_bad_input_never_500(client: httpx.AsyncClient) -> None:
    unknown = await client.post(
        "/api/v1/schedules", json={**BODY, "prompt": None, "workflow": "wf_1"}
    )
    assert unknown.status_code == 404 and "wf_1" in unknown.json()["error"]
    both = await client.post("/api/v1/schedules", json={**BODY, "blueprint": "meal-planning"})
    assert both.status_code == 422 and "target: give one of" in both.json()["error"]
    for body, field in (
        ({**BODY, "every": "whenever"}, "schedule:"),
        ({**BODY, "tz": "Moon/Base"}, "tz:"),
        ({**BODY, "overlap": "maybe"}, "overlap:"),
        ({**BODY, "cron": "* * * * *"}, "when:"),
        ({**BODY, "surprise": 1}, "surprise"),
    ):
        response = await client.post("/api/v1/schedules", json=body)
        assert response.status_code == 422, response.text
        assert field in response.text
    assert (await client.get("/api/v1/schedules")).json()["count"] == 0


async def test_preview_shows_the_cron_and_five_fire_times(client: httpx.AsyncClient) -> None:
    api = await client.post("/api/v1/schedules/preview", json=BODY)
    assert api.status_code == 200
    assert api.json()["when"]["description"] == "At 09:00 AM, Monday through Friday (Europe/Berlin)"
    assert len(api.json()["upcoming"]) == 5
    form = {"when_kind": "every", "when": "weekday at 9am", "tz": "Europe/Berlin"}
    page = await client.post("/ui/schedules/preview", data=form)
    html = BeautifulSoup(page.text, "html.parser")
    code = html.select_one("code")
    assert "understood as cron" in html.get_text()
    assert code is not None and code.get_text() == "0 9 * * 1-5"
    assert len(html.select("ol.upcoming li")) == 5
    assert all("09:00 CET" in li.get_text() for li in html.select("ol.upcoming li"))
    bad = await client.post("/ui/schedules/preview", data={**form, "when": "every blue moon"})
    assert bad.status_code == 200 and "neither a cron expression" in bad.text


async def test_pages_list_detail_and_form(client: httpx.AsyncClient) -> None:
    empty = BeautifulSoup((await client.get("/schedules")).text, "html.parser")
    assert "No schedules yet" in empty.get_text()
    assert "Not built yet" not in empty.get_text()
    form = {
        "name": "nightly <b>x</b>",
        "target": "prompt",
        "prompt": "<script>alert(1)</script>",
        "runtime": "scripted",
        "when_kind": "cron",
        "when": "every day at 11pm",
        "tz": "UTC",
        "overlap": "queue",
        "missed": "all",
        "max_firings": "3",
    }
    created = await client.post("/ui/schedules", data=form)
    assert created.status_code == 204 and created.headers["HX-Redirect"].startswith("/schedules/")
    listing = await client.get("/schedules")
    assert "<script>alert(1)</script>" not in listing.text and "&lt;script&gt;" in listing.text
    rows = BeautifulSoup(listing.text, "html.parser").select("table.schedules tbody tr")
    assert len(rows) == 1 and "23:00" in rows[0].get_text()
    detail = await client.get(created.headers["HX-Redirect"])
    page = BeautifulSoup(detail.text, "html.parser")
    assert "<b>x</b>" not in detail.text
    assert len(page.select("ol.upcoming li")) == 3
    assert page.select_one("button[hx-post$='/pause']") is not None
    nameless = await client.post("/ui/schedules", data={**form, "name": "w", "target": "workflow"})
    assert nameless.status_code == 422 and "name the workflow to fire" in nameless.text


async def test_a_blueprint_schedule_from_the_form_and_clearing_its_limit(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    form = {
        "name": "meals",
        "target": "blueprint",
        "target_ref": "meal-planning",
        "variables": "goal=quick dinners\n\ndays=3",
        "prompt": "left over from typing",
        "runtime": "scripted",
        "when_kind": "every",
        "when": "1d",
        "tz": "UTC",
        "overlap": "skip",
        "missed": "once",
        "max_firings": "3",
    }
    created = await client.post("/ui/schedules", data=form)
    assert created.status_code == 204, created.text
    schedule = workspace.schedules.get("meals")
    assert schedule.target.kind.value == "blueprint" and schedule.target.prompt is None
    assert schedule.target.variables == {"goal": "quick dinners", "days": "3"}
    listing = BeautifulSoup((await client.get("/schedules")).text, "html.parser")
    assert "blueprint meal-planning" in listing.select_one(f"#schedule-{schedule.id}").get_text()
    detail = BeautifulSoup((await client.get(f"/schedules/{schedule.id}")).text, "html.parser")
    assert "Fires the blueprint" in detail.get_text()
    edit_form = detail.select_one("form[hx-post$='/edit']")
    assert edit_form.select_one("select[name=target] option[selected]")["value"] == "blueprint"
    assert "goal=quick dinners" in edit_form.select_one("textarea[name=variables]").get_text()
    edited = await client.post(
        f"/ui/schedules/{schedule.id}/edit", data={**form, "max_firings": ""}
    )
    assert edited.status_code == 204, edited.text
    assert workspace.schedules.get("meals").max_firings is None
    bad = await client.post("/ui/schedules", data={**form, "name": "m2", "variables": "goal"})
    assert bad.status_code == 422 and "variables, line 1" in bad.text


async def test_fire_now_from_the_page_records_a_firing(queue_client: httpx.AsyncClient) -> None:
    sid = (await queue_client.post("/api/v1/schedules", json=BODY)).json()["id"]
    fired = await queue_client.post(f"/ui/schedules/{sid}/fire")
    assert fired.status_code == 200 and "fired by hand" in fired.text
    firings = (await queue_client.get(f"/api/v1/schedules/{sid}")).json()["firings"]
    assert [(f["manual"], f["status"]) for f in firings] == [(True, "pending")]


async def test_allow_is_refused_for_a_workflow_target_by_the_api_and_the_form(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:

    workspace.workflows.add(
        parse_definition({"name": "digest", "pattern": "sequence", "steps": [step("a", "ok")]})
    )
    body = {**BODY, "prompt": None, "workflow": "digest", "overlap": "allow"}
    api = await client.post("/api/v1/schedules", json=body)
    assert api.status_code == 422, api.text
    assert "overlap: 'allow' cannot run a workflow twice" in api.json()["error"]
    assert "choose overlap 'queue'" in api.text
    form = {
        "name": "w",
        "target": "workflow",
        "target_ref": "digest",
        "when_kind": "every",
        "when": "1h",
        "tz": "UTC",
        "overlap": "allow",
        "missed": "once",
    }
    page = await client.post("/ui/schedules", data=form)
    assert page.status_code == 422 and "cannot run a workflow twice" in page.text
    queued = await client.post("/ui/schedules", data={**form, "overlap": "queue"})
    assert queued.status_code == 204, queued.text
    assert workspace.schedules.get("w").overlap.value == "queue"


async def test_a_workflow_schedule_names_its_workflow_not_its_id(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    flow = workspace.workflows.add(
        parse_definition({"name": "digest", "pattern": "sequence", "steps": [step("a", "ok")]})
    )
    body = {**BODY, "name": "weekly", "prompt": None, "workflow": flow.id}
    sid = (await client.post("/api/v1/schedules", json=body)).json()["id"]
    for path in ("/schedules", f"/schedules/{sid}"):
        page = BeautifulSoup((await client.get(path)).text, "html.parser")
        main = page.select_one("main") or page
        assert flow.id not in main.get_text(), path
        named = main.select_one(".prompt-line" if path == "/schedules" else ".schedule-head")
        assert named is not None and "workflow digest" in " ".join(named.get_text().split())
    head = page.select_one(f'.schedule-head a[href="/workflows/{flow.id}"]')
    assert head is not None and head.get_text() == "digest"


async def test_the_history_shows_real_spend_by_the_money_rule_and_simulated_firings(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    """Issue 12 on the schedule page: a firing whose task ran on a simulated runtime says
    "simulated" (not its scenario's $0.25), a real one its spend as every page shows money
    ($0.0012)."""
    sid = (await client.post("/api/v1/schedules", json=BODY)).json()["id"]
    calls = {"real": (1_234, False), "played": (250_000, True)}
    runtimes = {"real": "anthropic", "played": "scripted"}
    fids: dict[str, str] = {}
    for hour, (name, (micros, simulated)) in enumerate(calls.items()):
        at = datetime(2026, 12, 1, hour, tzinfo=UTC)
        fids[name] = firing_id(sid, at)
        with workspace.store.write() as session:
            runtime = runtimes[name]
            task = task_repo.create(session, task_repo.NewTask(title=name, runtime=runtime))
            schedule_repo.add_firings(session, sid, [(fids[name], at, FiringStatus.PENDING, None)])
            schedule_repo.decide(session, fids[name], FiringStatus.FIRED, task_id=task.id)
            entry = ledger_repo.NewLedgerEntry(
                runtime=runtime, task_id=task.id, cost_micros=micros, simulated=simulated
            )
            ledger_repo.insert(session, entry)
    page = BeautifulSoup((await client.get(f"/schedules/{sid}")).text, "html.parser")
    cost = {name: page.select_one(f"#firing-{fid} td.firing-cost") for name, fid in fids.items()}
    assert {name: td.get_text(strip=True) if td else None for name, td in cost.items()} == {
        "real": "$0.0012",
        "played": "simulated",
    }
    shown = (await client.get(f"/api/v1/schedules/{sid}")).json()["firings"]
    assert {(f["cost_usd"], f["simulated"]) for f in shown} == {("0.001234", False), ("0.00", True)}
