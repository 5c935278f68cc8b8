"""``stagent workflow edit ID FILE``: the stored definition replaced from a file kept in git,
what changed printed (or ``--json``: the API's ``PUT`` answer), the errors ``workflow add``
gives for the same file, and a refusal that says what to do while a run is in flight."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import yaml
from clitools import Cli, assert_one_line_error

from stagent.testing.workflows import step
from stagent.web.app import create_app
from stagent.web.security import CSRF_COOKIE
from stagent.workspace import Workspace


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def flow(*steps: dict[str, Any], name: str = "review-and-fix") -> dict[str, Any]:
    chosen = list(steps) or [step("review", "found a bug"), step("fix", "fixed it")]
    return {"name": name, "pattern": "sequence", "steps": chosen}


def test_edit_replaces_the_stored_definition_and_prints_what_changed(
    cli: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path / "flow.yaml", flow())
    wf = cli.json("workflow", "add", str(path))
    write(path, flow(step("review", "found two bugs"), step("test", "ok"), name="rf"))
    result = cli("workflow", "edit", wf["id"], str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"Saved {wf['id']} rf - sequence, 2 steps",
        "  added: test",
        "  removed: fix",
        "  changed: review (options)",
        "  settings: name",
    ]
    shown = cli.json("workflow", "show", wf["id"])
    assert [s["id"] for s in shown["definition"]["steps"]] == ["review", "test"]
    assert [w["id"] for w in cli.json("workflow", "list")] == [wf["id"]]  # edited, not added

    again = cli("workflow", "edit", "rf", str(path))  # by its (unique) name, as the CLI allows
    assert again.exit_code == 0, again.output
    assert again.stdout.strip() == f"No changes: {wf['id']} rf already holds this definition."


def test_edit_json_is_the_apis_put_answer(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "flow.yaml", flow())
    wf = cli.json("workflow", "add", str(path))
    edited = flow(step("review", "found a bug"), step("fix", "fixed it", requires_approval=True))
    out = cli.json("workflow", "edit", wf["id"], str(write(path, edited)))
    assert out["changes"] == {
        "added": [],
        "removed": [],
        "changed": [{"id": "fix", "fields": ["requires_approval"]}],
        "reordered": False,
        "settings": [],
        "project": False,
    }

    async def put() -> Any:
        with Workspace.temporary(cli.home) as ws:
            ws.open()
            transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api:
                assert (await api.get("/api/v1/projects")).status_code == 200
                api.headers["X-CSRF-Token"] = api.cookies[CSRF_COOKIE]
                response = await api.put(
                    f"/api/v1/workflows/{wf['id']}", json={"text": path.read_text()}
                )
                assert response.status_code == 200, response.text
                return response.json()

    api = asyncio.run(put())
    assert api["changes"]["changed"] == []  # the same text again: nothing changed (or stored)
    assert {k: v for k, v in api.items() if k != "changes"} == {
        k: v for k, v in out.items() if k != "changes"
    }


def test_edit_errors_are_the_ones_add_gives_and_nothing_is_stored(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "flow.yaml", flow())
    wf = cli.json("workflow", "add", str(path))
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: review-and-fix\npattern: sequence\nsteps:\n"
        "  - {id: review, name: Review, prompt: go, runtime: claud}\n"
        "  - {id: fix, name: Fix, promt: go}\n",
        encoding="utf-8",
    )
    added = cli("workflow", "add", str(bad))
    edited = cli("workflow", "edit", wf["id"], str(bad))
    assert edited.exit_code == added.exit_code == 1
    assert edited.stderr == added.stderr
    assert edited.stderr.startswith(f"Error: 3 problems\n  {bad}:4: steps[0].runtime (step review)")
    assert "Traceback" not in edited.output and edited.stdout == ""
    as_json = cli.json("workflow", "edit", wf["id"], str(bad), expect_exit=1)
    assert (as_json["code"], len(as_json["errors"])) == ("invalid_input", 3)
    assert cli.json("workflow", "show", wf["id"])["definition"] == wf["definition"]

    missing = cli("workflow", "edit", "wf_nope", str(bad))  # the workflow before the file
    assert_one_line_error(missing, contains="no workflow with id 'wf_nope'")
    no_file = cli("workflow", "edit", wf["id"], str(tmp_path / "nope.yaml"))
    assert_one_line_error(no_file, contains=f"{tmp_path / 'nope.yaml'}: no such workflow file")


def test_edit_while_a_run_is_in_flight_says_to_wait_or_cancel(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "flow.yaml", flow())
    wf = cli.json("workflow", "add", str(path))
    with Workspace.temporary(cli.home) as ws:
        ws.open()
        ws.start_worker("worker")  # makes the queue's tables; stopped, no one takes the run
        ws.stop_worker()
        ws.workflows.run(wf["id"])
    write(path, flow(step("review", "other")))
    result = cli("workflow", "edit", wf["id"], str(path))
    line = assert_one_line_error(result, contains="is running (run 1)")
    assert line == (
        f"Error: workflow {wf['id']} is running (run 1); its definition cannot change while a "
        "run reads it"
    )
    assert result.stderr.splitlines()[1] == (
        f"hint: wait for the run to end, or cancel it (stagent workflow cancel {wf['id']}; "
        f"API: POST /api/v1/workflows/{wf['id']}/cancel), then save the edit again"
    )
    cli("workflow", "cancel", wf["id"])
    done = cli("workflow", "edit", wf["id"], str(path))
    assert done.exit_code == 0, done.output
    assert "  removed: fix" in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1] == (
        f"Run 1 keeps the steps it ran; the next run (stagent workflow run {wf['id']}, or "
        f"rerun {wf['id']} STEP) runs the edit."
    )


def test_show_of_a_run_edited_since_draws_what_it_ran_and_says_so(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "flow.yaml", flow())
    done = cli.json("workflow", "run", str(path))  # no server: it runs here, to the end
    assert done["status"] == "completed" and done["edited_after_run"] is False
    write(path, flow(step("review", "found a bug"), step("fix", "fixed it twice")))
    assert cli("workflow", "edit", done["id"], str(path)).exit_code == 0
    shown = cli("workflow", "show", done["id"])
    assert shown.exit_code == 0, shown.output
    assert (
        "  edited after run 1: these are the steps it ran; the next run runs the edit "
        "(changed: fix (options))"
    ) in shown.stdout.splitlines()
    as_json = cli.json("workflow", "show", done["id"])
    assert as_json["definition"] == done["definition"]  # what run 1 ran
    assert as_json["edited_after_run"] is True
    scenario = as_json["edited_definition"]["steps"][1]["options"]["scripted"]["scenario"]
    assert scenario["result"] == "fixed it twice"
