"""The OpenAPI schema states what the API refuses: a NUL byte or an over-long path, and a zero
amount where at least one micro-dollar is needed. Each refusal is a 422 naming the field, and
the schema the API publishes says the same (what a client generated from it would check)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from webtools import asgi_client

from stagent.domain.limits import PATH_MAX
from stagent.web.app import create_app
from stagent.workspace import Workspace

NUL_PATH = "/tmp/a\x00b"


def _property(app: FastAPI, model: str, name: str) -> dict[str, Any]:
    """The string schema of ``model.name`` in the published OpenAPI (its string branch if it
    may also be null or a number)."""
    field: dict[str, Any] = app.openapi()["components"]["schemas"][model]["properties"][name]
    branches = field.get("anyOf", [field])
    branch = next(b for b in branches if b.get("type") in ("string", "array"))
    return branch["items"] if branch["type"] == "array" else branch


def _schema_allows(schema: dict[str, Any], text: str) -> bool:
    if len(text) > schema.get("maxLength", len(text)) or len(text) < schema.get("minLength", 0):
        return False
    return re.search(schema.get("pattern", ""), text) is not None


def _owner(app: FastAPI, workspace: Workspace) -> httpx.AsyncClient:
    client = asgi_client(app)
    client.headers["Authorization"] = f"Bearer {workspace.owner_token()}"  # no CSRF needed
    return client


def _refused_field(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [e["field"] for e in response.json()["errors"]]


PATH_FIELDS = [
    ("POST", "/api/v1/rules/import", "FileIn", "path", lambda p: {"path": p}),
    ("POST", "/api/v1/projects", "ProjectIn", "directory", lambda p: {"name": "x", "directory": p}),
    ("POST", "/api/v1/ledger/import", "ImportIn", "path", lambda p: {"which": "codex", "path": p}),
    ("POST", "/api/v1/scans", "ScanIn", "roots", lambda p: {"roots": [p]}),
]


@pytest.mark.parametrize(("method", "url", "model", "field", "body"), PATH_FIELDS)
async def test_a_path_with_a_nul_byte_is_refused_as_the_schema_says(
    app: FastAPI, workspace: Workspace, method: str, url: str, model: str, field: str, body: Any
) -> None:
    schema = _property(app, model, field)
    assert not _schema_allows(schema, NUL_PATH)
    assert _schema_allows(schema, "/tmp/a b") and _schema_allows(schema, "~/projects/é")
    async with _owner(app, workspace) as api:
        refused = await api.request(method, url, json=body(NUL_PATH))
    named = _refused_field(refused)
    assert named == [field if field != "roots" else "roots.0"]
    assert "NUL byte" in refused.json()["error"]


async def test_a_settings_path_longer_than_a_path_can_be_is_refused_as_the_schema_says(
    app: FastAPI, workspace: Workspace
) -> None:
    schema = _property(app, "FileIn", "path")
    too_long = "/" + "a" * PATH_MAX
    assert schema["maxLength"] == PATH_MAX and not _schema_allows(schema, too_long)
    assert not _schema_allows(schema, "")
    async with _owner(app, workspace) as api:
        refused = await api.post("/api/v1/rules/import", json={"path": too_long})
        empty = await api.post("/api/v1/rules/import", json={"path": ""})
    assert _refused_field(refused) == ["path"] and _refused_field(empty) == ["path"]


@pytest.mark.parametrize("zero", ["0", "$0", "0.000000", "000.0", 0, 0.0000004])
async def test_a_zero_per_run_cap_is_refused_as_the_schema_says(
    app: FastAPI, workspace: Workspace, zero: str | float
) -> None:
    text = _property(app, "BudgetIn", "per_run_usd")
    field = app.openapi()["components"]["schemas"]["BudgetIn"]["properties"]["per_run_usd"]
    number = next(b for b in field["anyOf"] if b.get("type") == "number")
    if isinstance(zero, str):
        assert not _schema_allows(text, zero)
    else:
        assert zero < number["minimum"]
    async with _owner(app, workspace) as api:
        refused = await api.put("/api/v1/budgets/overall", json={"per_run_usd": zero})
        smallest = await api.put("/api/v1/budgets/overall", json={"per_run_usd": "0.000001"})
    assert _refused_field(refused) == ["per_run_usd"]
    assert smallest.status_code == 200, smallest.text
    assert _schema_allows(text, "0.000001") and number["minimum"] == 0.000001


def test_the_schema_takes_every_positive_amount_and_a_daily_cap_of_zero(app: FastAPI) -> None:
    positive = _property(app, "BudgetIn", "per_run_usd")
    for amount in ("1", "$3", "0.5", "000000001", "00.000010", "999999999.999999", "1000000000"):
        assert _schema_allows(positive, amount), amount
    for amount in ("1000000000.1", "0.0000001", "1234567890", "-1"):
        assert not _schema_allows(positive, amount), amount
    raise_to = _property(app, "RespondIn", "amount_usd")
    assert raise_to["pattern"] == positive["pattern"]  # one shape for every positive amount
    assert _schema_allows(_property(app, "BudgetIn", "daily_usd"), "0")  # zero: no spending


TEXT_FIELDS = [
    ("POST", "/api/v1/tasks", "TaskIn", "title", lambda t: {"title": t}),
    ("POST", "/api/v1/tasks", "TaskIn", "description", lambda t: {"title": "x", "description": t}),
    ("PATCH", "/api/v1/tasks/{task}", "TaskPatch", "title", lambda t: {"title": t}),
    ("PATCH", "/api/v1/tasks/{task}", "TaskPatch", "description", lambda t: {"description": t}),
    ("POST", "/api/v1/projects", "ProjectIn", "name", lambda t: {"name": t}),
    (
        "POST",
        "/api/v1/projects",
        "ProjectIn",
        "description",
        lambda t: {"name": "x", "description": t},
    ),
    ("POST", "/api/v1/rules", "RuleIn", "rule", lambda t: {"rule": f"Bash({t})", "effect": "deny"}),
]


@pytest.mark.parametrize("bad", ["a\x00b", "a\u202eb", "a\u2067b"])
@pytest.mark.parametrize(("method", "url", "model", "field", "body"), TEXT_FIELDS)
async def test_text_with_a_nul_byte_or_a_bidi_control_is_refused_as_the_schema_says(
    app: FastAPI,
    workspace: Workspace,
    method: str,
    url: str,
    model: str,
    field: str,
    body: Any,
    bad: str,
) -> None:
    schema = _property(app, model, field)
    text = body(bad)[field]
    assert not _schema_allows(schema, text)
    assert _schema_allows(schema, body("plain text, émigré")[field])
    async with _owner(app, workspace) as api:
        task = (await api.post("/api/v1/tasks", json={"title": "t"})).json()["id"]
        refused = await api.request(method, url.format(task=task), json=body(bad))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"].startswith(f"{field}: contains a ")


BLANK_FIELDS = [
    ("/api/v1/tasks", "TaskIn", "title", lambda t: {"title": t}),
    ("/api/v1/projects", "ProjectIn", "name", lambda t: {"name": t}),
    ("/api/v1/rules", "RuleIn", "rule", lambda t: {"rule": t, "effect": "deny"}),
]


@pytest.mark.parametrize(("url", "model", "field", "body"), BLANK_FIELDS)
async def test_a_blank_title_name_or_rule_is_refused_as_the_schema_says(
    app: FastAPI, workspace: Workspace, url: str, model: str, field: str, body: Any
) -> None:
    schema = _property(app, model, field)
    assert not _schema_allows(schema, "   ") and not _schema_allows(schema, "\t\x1c")
    assert not _schema_allows(schema, "") and _schema_allows(schema, " Read ")
    async with _owner(app, workspace) as api:
        refused = await api.post(url, json=body(" \t "))
    assert _refused_field(refused) == [field]


@pytest.mark.parametrize("field", ["rule", "comment"])
def test_an_allow_decision_states_its_text_has_no_nul_byte(app: FastAPI, field: str) -> None:
    # The approval decision checks its rule and comment as the rules API does (`checked_text`).
    schema = _property(app, "AllowIn", field)
    assert not _schema_allows(schema, "a\x00b") and _schema_allows(schema, "Bash(ls)")


@pytest.mark.parametrize("field", ["name", "prompt"])
@pytest.mark.parametrize("bad", ["a\x00b", "a\u202eb"])
async def test_a_schedule_with_a_nul_byte_is_refused_on_postgresql_as_the_schema_says(
    pg_workspace: Workspace, field: str, bad: str
) -> None:
    # PostgreSQL's text columns cannot hold a NUL: this was a 500 from the INSERT.
    app = create_app(pg_workspace)
    schema = _property(app, "ScheduleIn", field)
    assert not _schema_allows(schema, bad) and _schema_allows(schema, "Summarize the day")
    body = {"name": "daily", "prompt": "Summarize the day", "every": "1h", field: bad}
    async with _owner(app, pg_workspace) as api:
        refused = await api.post("/api/v1/schedules", json=body)
        listed = (await api.get("/api/v1/schedules")).json()
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"].startswith(f"{field}: contains a ")
    assert listed["count"] == 0


async def test_a_new_schedule_needs_a_name_and_the_schema_says_so_an_edit_does_not(
    app: FastAPI, workspace: Workspace
) -> None:
    # Create and preview require a name that is not blank; an edit may leave it out.
    components = app.openapi()["components"]["schemas"]
    assert "name" in components["ScheduleIn"]["required"]
    assert "name" not in components["SchedulePatch"].get("required", [])
    assert "clear_limit" not in components["ScheduleIn"]["properties"]
    for model in ("ScheduleIn", "SchedulePatch"):
        schema = _property(app, model, "name")
        assert not _schema_allows(schema, "   ") and not _schema_allows(schema, "a" * 201)
        assert _schema_allows(schema, " Daily digest ")
    body = {"prompt": "Summarize the day", "every": "1h"}
    async with _owner(app, workspace) as api:
        nameless = await api.post("/api/v1/schedules", json=body)
        preview = await api.post("/api/v1/schedules/preview", json=body)
        blank = await api.post("/api/v1/schedules", json={**body, "name": " \t "})
        made = await api.post("/api/v1/schedules", json={**body, "name": "daily"})
        assert made.status_code == 201, made.text
        edited = await api.patch("/api/v1/schedules/daily", json={"every": "2h"})
        blanked = await api.patch("/api/v1/schedules/daily", json={"name": "  "})
        cleared = await api.post(
            "/api/v1/schedules", json={**body, "name": "x", "clear_limit": True}
        )
    assert _refused_field(nameless) == ["name"] and _refused_field(preview) == ["name"]
    assert blank.json()["error"] == "name: a schedule needs a name"
    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["when"]["every_seconds"]) == ("daily", 7200)
    assert blanked.status_code == 422 and blanked.json()["error"].startswith("name: ")
    assert _refused_field(cleared) == ["clear_limit"]


WORKFLOW = {
    "name": "review",
    "pattern": "sequence",
    "steps": [{"id": "a", "name": "Read", "prompt": "Read the diff", "runtime": "scripted"}],
}
WORKFLOW_TEXT = [
    (["name"], "name"),
    (["steps", 0, "name"], "steps[0].name"),
    (["steps", 0, "prompt"], "steps[0].prompt"),
]


def _with(path: list[str | int], value: str) -> dict[str, Any]:
    definition: Any = json.loads(json.dumps(WORKFLOW))
    node = definition
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return definition


def _definition_property(app: FastAPI, path: list[str | int]) -> dict[str, Any]:
    """The schema of a definition field inside ``WorkflowIn.definition`` (inlined)."""
    node: dict[str, Any] = app.openapi()["components"]["schemas"]["WorkflowIn"]["properties"]
    node = node["definition"]
    for part in path:
        node = node["items"] if isinstance(part, int) else node["properties"][part]
    return node


@pytest.mark.parametrize(("path", "field"), WORKFLOW_TEXT)
@pytest.mark.parametrize("bad", ["a\x00b", "a\u202eb"])
async def test_a_workflow_with_a_nul_byte_is_refused_on_postgresql_as_the_schema_says(
    pg_workspace: Workspace, path: list[str | int], field: str, bad: str
) -> None:
    # PostgreSQL's text columns cannot hold a NUL: a name was a 500 from the INSERT, a step's
    # name or prompt was stored and broke its task later.
    app = create_app(pg_workspace)
    schema = _definition_property(app, path)
    assert not _schema_allows(schema, bad) and _schema_allows(schema, "Read the diff")
    text = json.dumps(_with(path, bad))
    async with _owner(app, pg_workspace) as api:
        refused = await api.post("/api/v1/workflows", json={"definition": _with(path, bad)})
        as_text = await api.post("/api/v1/workflows", json={"text": text})
        listed = (await api.get("/api/v1/workflows")).json()
    assert _refused_field(refused) == [field] and _refused_field(as_text) == [field]
    assert refused.json()["errors"][0]["message"].startswith("contains a ")
    assert as_text.json()["errors"][0]["line"] == 1
    assert listed["count"] == 0


@pytest.mark.parametrize("bad", ["a\x00b", "a\u202eb"])
async def test_a_blueprint_variable_with_a_nul_byte_is_refused_on_postgresql(
    pg_workspace: Workspace, bad: str
) -> None:
    app = create_app(pg_workspace)
    variables = app.openapi()["components"]["schemas"]["RunIn"]["properties"]["variables"]
    [text] = [b for b in variables["additionalProperties"]["anyOf"] if b.get("type") == "string"]
    assert not _schema_allows(text, bad) and _schema_allows(text, "The login page is blank")
    body = {
        "variables": {"bug_report": bad, "component": "web", "severity": "low"},
        "runtime": "scripted",
    }
    async with _owner(app, pg_workspace) as api:
        resolved = await api.post("/api/v1/blueprints/bug-triage/resolve", json=body)
        run = await api.post("/api/v1/blueprints/bug-triage/run", json=body)
        listed = (await api.get("/api/v1/workflows")).json()
    for refused in (resolved, run):
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"].startswith("variable bug_report: contains a ")
    assert listed["count"] == 0
