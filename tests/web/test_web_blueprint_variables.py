"""Variable validation through the API and the Blueprints page preview: the same checks and
messages as the CLI, nothing stored, and the router's reason over the API."""

from __future__ import annotations

import httpx
import pytest
from bs4 import BeautifulSoup

from stagent.workspace import Workspace

BAD = [
    ("meal-planning", {"goal": "x", "days": "0"}, "variable days: 0 is below the minimum 1"),
    ("meal-planning", {"goal": "x", "days": 15}, "variable days: 15 is above the maximum 14"),
    ("meal-planning", {"goal": "x", "days": "inf"}, "variable days: 'inf' is not a number"),
    ("meal-planning", {"goal": "x", "days": True}, "variable days: True is not a number"),
    ("bug-triage", {"bug_report": "x", "severity": "meh"}, "variable severity: 'meh' is not one"),
    ("release-notes", {"version": "2", "announce": "sure"}, "'sure' is not true or false"),
    ("release-notes", {"version": "2", "colour": "red"}, "variable colour: release-notes has no"),
]


@pytest.mark.parametrize(("blueprint", "variables", "message"), BAD)
async def test_the_api_refuses_bad_values_with_the_variable_named(
    client: httpx.AsyncClient,
    workspace: Workspace,
    blueprint: str,
    variables: dict[str, object],
    message: str,
) -> None:
    for action in ("resolve", "run"):
        response = await client.post(
            f"/api/v1/blueprints/{blueprint}/{action}", json={"variables": variables}
        )
        assert response.status_code == 422, response.text
        assert message in response.json()["error"]
    assert workspace.workflows.list() == []


async def test_json_values_keep_their_types(client: httpx.AsyncClient) -> None:
    resolved = await client.post(
        "/api/v1/blueprints/meal-planning/resolve",
        json={"variables": {"goal": "more protein", "days": 3, "people": "4"}},
    )
    assert resolved.status_code == 200
    variables = resolved.json()["definition"]["blueprint"]["variables"]
    assert (variables["days"], variables["people"]) == (3, 4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"goal": "x", "days": "20"}, "variable days: 20 is above the maximum 14"),
        ({"goal": "x", "days": "many"}, "variable days: &#39;many&#39; is not a number"),
        ({"goal": "", "days": "3"}, "variable goal: Goal is required"),
    ],
)
async def test_the_preview_shows_a_bad_value_instead_of_steps(
    client: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    preview = await client.get("/ui/blueprints/meal-planning/preview", params=params)
    assert preview.status_code == 200
    page = BeautifulSoup(preview.text, "html.parser")
    assert page.select_one(".error-box") is not None
    assert message in preview.text
    assert page.select(".resolved-steps > li") == []


async def test_the_preview_lists_steps_with_profiles_and_approval_gates(
    client: httpx.AsyncClient,
) -> None:
    preview = await client.get(
        "/ui/blueprints/release-notes/preview", params={"version": "3.1", "announce": "true"}
    )
    page = BeautifulSoup(preview.text, "html.parser")
    assert "Release notes: 3.1" in page.get_text()
    steps = page.select(".resolved-steps > li")
    names = [s.strong.get_text() if s.strong else "" for s in steps]
    assert names == ["Collect changes", "Changelog and notes", "Announcement"]
    assert "release-manager" in steps[0].get_text()
    assert [s.select_one(".badge") is not None for s in steps] == [False, False, True]
    assert "release notes for 3.1" in steps[1].get_text()
    assert "{{" not in preview.text
    quiet = await client.get(
        "/ui/blueprints/release-notes/preview", params={"version": "3.1", "announce": "false"}
    )
    assert len(BeautifulSoup(quiet.text, "html.parser").select(".resolved-steps > li")) == 2
    assert "Skipped by their condition: announcement" in quiet.text


async def test_the_route_api_explains_a_fallback(client: httpx.AsyncClient) -> None:
    decision = (await client.get("/api/v1/profiles/route", params={"title": "Buy milk"})).json()
    assert decision["profile_id"] == "general" and decision["fallback"] is True
    assert "shopping-assistant scored 1" in decision["reason"]
    picked = await client.get(
        "/api/v1/profiles/route",
        params={"title": "Slow SQL query", "description": "needs an index", "runtime": "claude"},
    )
    assert picked.json()["matched"] == ["sql", "query", "index"]
    assert picked.json()["score"] == 3


BROKEN = """\
id: broken
name: Broken
description: Two things wrong.
pattern: sequence
version: one
steps:
  - {name: Gather, profile: researcher, prompt: "Research {{topc}}"}
"""


async def test_a_broken_user_blueprint_names_each_problem_with_its_fix(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    """The API's 422 lists both problems, each placed with its own fix; the Blueprints page
    shows them as a list (fix beside each) and still the other blueprints."""
    folder = workspace.profiles.blueprint_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.yaml").write_text(BROKEN)
    response = await client.get("/api/v1/blueprints/broken")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["line"], e["field"], e["step"], e["hint"]) for e in errors] == [
        (5, "version", None, "e.g. version: 1.0.0"),
        (7, "steps[0].prompt", "Gather", "declare it: variables: - {id: topc, type: text}"),
    ]
    page = await client.get("/blueprints")
    assert page.status_code == 200
    box = BeautifulSoup(page.text, "html.parser").select_one("article.error-box")
    assert box is not None
    items = [li.get_text(" ", strip=True) for li in box.select("ul.problems li")]
    assert len(items) == 2
    assert items[0].endswith("version: 'one' is not a semantic version fix: e.g. version: 1.0.0")
    assert "steps[0].prompt (step Gather): {{topc}} is not a variable" in items[1]
    assert "code-review-pipeline" in page.text
