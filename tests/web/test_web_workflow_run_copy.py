"""The run view and the API of a run whose workflow was edited afterwards: they draw the
definition the run started from and say plainly that the workflow was edited since (the
editor and ``edited_definition`` hold the edit, which the next run runs)."""

from __future__ import annotations

import yaml
from bs4 import BeautifulSoup
from httpx import AsyncClient

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.workspace import Workspace


def page(text: str) -> BeautifulSoup:
    return BeautifulSoup(text, "html.parser")


async def test_an_edited_workflows_last_run_shows_what_it_ran_and_says_it_was_edited(
    worker_client: AsyncClient, worker: Workspace
) -> None:
    ran = {
        "name": "release",
        "pattern": "sequence",
        "steps": [{"id": "build", "name": "Build", "prompt": "build it"}],
    }
    edit = {**ran, "steps": [*ran["steps"], {"id": "ship", "name": "Ship", "prompt": "ship it"}]}
    wf = worker.workflows.add(parse_definition(ran))
    worker.workflows.run(wf.id)
    assert worker.workflows.wait(wf.id, timeout=60).status is WorkflowStatus.COMPLETED
    view = page((await worker_client.get(f"/workflows/{wf.id}")).text)
    assert view.select_one("#wf-edited") is None  # not edited: nothing said
    worker.workflows.update(wf.id, parse_definition(edit))

    view = page((await worker_client.get(f"/workflows/{wf.id}")).text)
    notice = view.select_one("#wf-edited")
    assert notice is not None
    assert "Edited after this run" in notice.text and "added: ship" in notice.text
    assert [n.get("id") for n in view.select(".wf-node")] == ["node-build"]  # no "ship"
    shown = view.select_one("pre.mono")
    assert shown is not None and yaml.safe_load(shown.get_text()) == ran
    editor = (await worker_client.get(f"/workflows/{wf.id}/edit")).text
    assert "ship it" in editor  # the editor edits the stored (edited) definition

    body = (await worker_client.get(f"/api/v1/workflows/{wf.id}")).json()
    assert [s["id"] for s in body["definition"]["steps"]] == ["build"]
    assert body["edited_after_run"] is True
    assert [s["id"] for s in body["edited_definition"]["steps"]] == ["build", "ship"]
    assert [s["id"] for s in body["steps"]] == ["build"]
