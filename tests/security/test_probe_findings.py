"""What the attacker's probe found besides containment: each is a clear refusal now, never a 500,
an "Internal error" or a value that fails later."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stagent.cli.app import app as cli_app
from stagent.cli.serve import check_bind_allowed
from stagent.domain.errors import ScenarioError, ValidationError
from stagent.domain.limits import DESCRIPTION_MAX, TITLE_MAX
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.settings import Settings
from stagent.web.app import create_app
from stagent.workspace import Workspace


@pytest.fixture
async def person(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(workspace), client=("127.0.0.1", 5000))
    headers = {"Authorization": f"Bearer {workspace.owner_token()}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8765", headers=headers
    ) as client:
        yield client


async def test_events_after_past_the_64_bit_range_is_refused_not_a_500(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    task = workspace.tasks.create(TaskDraft(title="t"))
    too_big = await person.get(f"/api/v1/tasks/{task.id}/events?after=9223372036854775808")
    assert too_big.status_code == 422
    largest = await person.get(f"/api/v1/tasks/{task.id}/events?after=9223372036854775807")
    assert largest.status_code == 200 and largest.json()["data"] == []
    assert workspace.tasks.events(task.id, after=10**30) == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "nul\x00name"},
        {"name": "p", "directory": "/tmp/\x00x"},
        {"name": "p", "directory": "/" + "d" * 5000},
        {"name": "p", "directory": "/" + "d" * 4000},  # within the limit, too long for the FS
        {"name": "p", "description": "x" * (DESCRIPTION_MAX + 1)},
        {"name": "\u202eevil"},
    ],
    ids=["nul-name", "nul-dir", "5000-dir", "4000-dir", "huge-description", "bidi-name"],
)
async def test_bad_projects_are_refused_by_api_and_form(
    person: httpx.AsyncClient, body: dict[str, str]
) -> None:
    api = await person.post("/api/v1/projects", json=body)
    assert api.status_code == 422, api.text
    form = await person.post("/ui/projects", data=body)
    assert form.status_code == 422, form.text


async def test_rules_import_and_export_refuse_nul_paths_and_directories(
    person: httpx.AsyncClient, tmp_path: Path
) -> None:
    for verb in ("import", "export"):
        for path in ("/tmp/a\x00b.json", str(tmp_path)):
            response = await person.post(f"/api/v1/rules/{verb}", json={"path": path})
            assert response.status_code == 422, (verb, path, response.text)


def _cli(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner(env={"STAGENT_RAISE_ERRORS": ""}).invoke(
        cli_app, ["--home", str(home), *args]
    )
    return result.exit_code, result.stderr


def test_the_cli_names_the_problem_instead_of_internal_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    latin1 = tmp_path / "scenario.yaml"
    latin1.write_bytes(b"name: caf\xe9\nsteps: []\n")
    code, err = _cli(home, "task", "add", "t", "--scenario", str(latin1))
    assert code == 1 and "not UTF-8" in err and "Internal error" not in err
    code, err = _cli(home, "rules", "export", str(tmp_path))
    assert code == 1 and "is a directory" in err and "Internal error" not in err
    code, err = _cli(home, "task", "add", "x" * (TITLE_MAX + 1))
    assert code == 1 and f"at most {TITLE_MAX}" in err


@pytest.mark.parametrize(
    "usage",
    [{"input_tokens": 1e38}, {"input_tokens": 10**38}, {"cost_usd": float("inf")}],
    ids=["float-1e38", "int-1e38", "inf"],
)
def test_absurd_scenario_numbers_are_refused_up_front(
    workspace: Workspace, usage: dict[str, float]
) -> None:
    with pytest.raises(ScenarioError):
        workspace.tasks.create(TaskDraft(title="t", scenario={"steps": [{"usage": usage}]}))


async def test_one_title_limit_on_every_face(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    long = "x" * (TITLE_MAX + 1)
    assert (await person.post("/api/v1/tasks", json={"title": long})).status_code == 422
    assert (await person.post("/ui/tasks", data={"title": long})).status_code == 422
    with pytest.raises(ValidationError):
        workspace.tasks.create(TaskDraft(title=long))
    with pytest.raises(ValidationError):
        workspace.tasks.create(TaskDraft(title="t", description="d" * (DESCRIPTION_MAX + 1)))
    fits = await person.post("/api/v1/tasks", json={"title": "x" * TITLE_MAX})
    assert fits.status_code == 201


def test_rule_text_with_bidi_overrides_is_refused(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="bidirectional"):
        workspace.rules.add("Bash(git status\u202e *)")
    assert workspace.rules.list() == []


@pytest.mark.parametrize("token", [None, "a", "password", "a" * 40, "0123456789" * 2])
def test_a_public_bind_needs_a_strong_token(token: str | None) -> None:
    with pytest.raises(ValidationError):
        check_bind_allowed(Settings(host="0.0.0.0", token=token))


def test_a_strong_token_or_loopback_serves() -> None:
    check_bind_allowed(Settings(host="0.0.0.0", token="Zq8pX2vR7mK4tN9wB3yH6cL1"))
    check_bind_allowed(Settings(host="127.0.0.1", token="a"))


def test_an_ordinary_cancel_logs_no_dbos_traceback(
    worker: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = {"steps": [{"text": "start"}, {"delay": 30}]}
    task = worker.tasks.create(TaskDraft(title="long", scenario=scenario))
    worker.tasks.run(task.id)
    for event in worker.tasks.follow(task.id):
        if event.kind == "text":
            break
    with caplog.at_level(logging.WARNING, logger="dbos"):
        worker.tasks.cancel(task.id)
        assert worker.tasks.wait(task.id, timeout=20).status is TaskStatus.CANCELLED
        time.sleep(1.5)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert not any("Traceback" in r.getMessage() or r.exc_info for r in caplog.records)


def test_the_apis_preset_names_are_the_presets() -> None:
    """The OpenAPI lists the preset names, so a schema-valid name is a preset that exists."""
    from typing import get_args

    from stagent.governance.presets import PRESETS
    from stagent.web.api.rules import PresetName

    assert set(get_args(PresetName)) == set(PRESETS)
