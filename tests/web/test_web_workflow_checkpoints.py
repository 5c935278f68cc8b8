"""A workflow checkpoint in the Inbox page and the API: the same card and actions as a tool
approval (approve with a comment, reject), and re-running a workflow from a step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from webtools import asgi_client, with_csrf

from stagent.domain.workflow_files import parse_definition
from stagent.testing.workflows import step
from stagent.web.app import create_app
from stagent.workspace import Workspace


@pytest.fixture
async def person(worker: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as the person, over a workspace whose worker runs workflows."""
    async with asgi_client(create_app(worker)) as client:
        response = await client.get(f"/?token={worker.owner_token()}")
        assert response.status_code == 303
        yield await with_csrf(client)


async def pending_checkpoint(client: httpx.AsyncClient) -> dict[str, Any]:
    for _ in range(400):
        cards = (await client.get("/api/v1/approvals")).json()["data"]
        if cards:
            return cards[0]
        await asyncio.sleep(0.05)
    raise AssertionError("no checkpoint card")


async def ended(client: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    for _ in range(600):
        body = (await client.get(f"/api/v1/workflows/{workflow_id}")).json()
        if body["status"] not in ("running", "draft"):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("the workflow never ended")


async def test_the_inbox_page_shows_a_checkpoint_and_approves_it_with_a_comment(
    person: httpx.AsyncClient, worker: Workspace
) -> None:
    wf = worker.workflows.add(
        parse_definition(
            {
                "name": "<i>gated</i>",
                "pattern": "checkpoint",
                "steps": [
                    step("review", "found <b>x</b>"),
                    step("fix", "ok", requires_approval=True),
                ],
            }
        )
    )
    worker.workflows.run(wf.id)
    card = await pending_checkpoint(person)
    page = BeautifulSoup((await person.get("/inbox")).text, "html.parser")
    article = page.select_one(f"#approval-{card['id']}")
    assert article is not None
    text = " ".join(article.text.split())
    assert "Workflow checkpoint" in text and "before step Fix starts" in text
    assert "<i>gated</i>" in text  # shown as text, escaped in the HTML
    assert article.select_one("input[name=rule]") is None  # no always-allow rule here
    assert article.select_one("form.allow-form input[name=comment]") is not None
    assert [b.text for b in article.select("button")] == ["Approve", "Reject"]
    assert "stagent " not in article.text  # no CLI syntax on a page

    ok = await person.post(
        f"/ui/approvals/{card['id']}/allow", data={"always": "0", "comment": "only the typo"}
    )
    assert ok.status_code == 200 and ok.text == ""
    done = await ended(person, wf.id)
    assert done["status"] == "completed", done["stop_reason"]
    task = worker.tasks.get(done["steps"][1]["task_id"])
    assert task.description.endswith("Reviewer's comment at the checkpoint:\nonly the typo")


async def test_the_api_rejects_a_checkpoint_and_reruns_from_a_step(
    person: httpx.AsyncClient, worker: Workspace
) -> None:
    definition = {
        "name": "api-gated",
        "pattern": "sequence",
        "steps": [step("one", "first"), step("two", "second", requires_approval=True)],
    }
    wf = (await person.post("/api/v1/workflows", json={"definition": definition})).json()
    await person.post(f"/api/v1/workflows/{wf['id']}/run")
    card = await pending_checkpoint(person)
    assert card["kind"] == "checkpoint" and card["input"]["step"] == "two"
    async with asgi_client(create_app(worker)) as api:
        api.headers["Authorization"] = f"Bearer {worker.owner_token()}"
        no_rule = await api.post(f"/api/v1/approvals/{card['id']}/allow", json={"always": True})
        assert no_rule.status_code == 422
        denied = await api.post(f"/api/v1/approvals/{card['id']}/deny", json={"message": "no"})
        assert denied.status_code == 200 and denied.json()["status"] == "denied"
    failed = await ended(person, wf["id"])
    assert (
        failed["stop_reason"]
        == "step two failed: rejected at the checkpoint by person (via API, owner token): no"
    )
    first_task = failed["steps"][0]["task_id"]

    rerun = await person.post(f"/api/v1/workflows/{wf['id']}/steps/two/rerun")
    assert rerun.status_code == 200 and rerun.json()["run_count"] == 2
    busy = await person.post(f"/api/v1/workflows/{wf['id']}/steps/two/rerun")
    assert busy.status_code == 409
    card = await pending_checkpoint(person)
    await person.post(f"/ui/approvals/{card['id']}/allow", data={"always": "0"})
    done = await ended(person, wf["id"])
    assert done["status"] == "completed"
    assert done["steps"][0]["task_id"] == first_task  # reused, not run again
    assert len(worker.tasks.runs(first_task)) == 1
