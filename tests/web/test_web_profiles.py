"""The Profiles and Blueprints pages: gallery filters, detail, the editor (person only, located
errors, escaped output), blueprint forms generated from variables and the preview."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

from stagent.workspace import Workspace

EVIL = "<script>alert(1)</script>"


def soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


@pytest.fixture
async def person(app: FastAPI, workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as the person."""
    async with asgi_client(app) as client:
        response = await client.get(f"/?token={workspace.owner_token()}")
        assert response.status_code == 303
        yield await with_csrf(client)


async def test_gallery_lists_every_profile_and_filters_in_place(client: httpx.AsyncClient) -> None:
    page = await client.get("/profiles")
    assert page.status_code == 200
    cards = soup(page).select("#gallery .profile-card")
    assert len(cards) >= 52
    assert soup(page).select("main .not-built-box") == []

    found = await client.get("/ui/profiles/gallery", params={"q": "translat"})
    names = [a.get_text() for a in soup(found).select(".card-name")]
    assert names == ["Translator"]
    personal = await client.get("/ui/profiles/gallery", params={"domain": "personal"})
    assert all("personal" in c.get_text() for c in soup(personal).select(".profile-card"))
    anthropic = await client.get("/ui/profiles/gallery", params={"runtime": "anthropic"})
    ids = {a["href"].rsplit("/", 1)[-1] for a in soup(anthropic).select(".card-name")}
    assert "editor" in ids and "code-reviewer" not in ids
    none = await client.get("/ui/profiles/gallery", params={"q": "zzzz"})
    assert "No profile matches" in none.text


async def test_detail_shows_policy_per_runtime_tests_and_instructions(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/profiles/researcher")
    assert page.status_code == 200
    doc = soup(page)
    rows = doc.select("table.policy tbody tr")
    assert [r.select_one("td code").get_text() for r in rows] == ["claude", "codex"]
    claude = rows[0].get_text(" ")
    assert "WebSearch" in claude and "Write" in claude and "40 turns" in claude
    assert "Not tested yet" in page.text
    instructions = doc.select_one(".instructions")
    assert instructions.select_one("h3").get_text() == "Researcher"  # Markdown, not raw text
    assert [h.get_text() for h in instructions.select("h4")][:2] == ["Method", "What you deliver"]
    assert len(instructions.select("ol > li")) == 5
    assert instructions.select_one("ol > li strong").get_text() == "Sharpen the question."
    assert "Customize" not in page.text  # not signed in: no editing controls

    editor = await client.get("/profiles/editor")
    assert "none: this runtime makes no tool calls" in editor.text
    missing = await client.get("/profiles/nobody")
    assert missing.status_code == 404


async def test_saving_a_profile_needs_the_person(client: httpx.AsyncClient) -> None:
    spec, skill = _files("mine")
    refused = await client.post("/ui/profiles", data={"spec": spec, "skill": skill})
    assert refused.status_code == 403


def _files(profile_id: str, body: str = "Do the job well.") -> tuple[str, str]:
    spec = (
        f"id: {profile_id}\nname: Mine\ndomain: personal\ntags: [mine, test]\n"
        "supportedRuntimes: [claude]\nallowedTools: [Read]\n"
        "tests:\n  - {task: Say hi., expectedKeywords: [hi]}\n"
    )
    skill = f"---\nname: {profile_id}\ndescription: My own profile.\n---\n\n{body}\n"
    return spec, skill


async def test_the_person_creates_edits_and_deletes_a_user_profile(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    body = f"Never run {EVIL}.\n\n<b>raw</b> [bad](javascript:alert(1)) <img src=x onerror=x>"
    spec, skill = _files("mine", body=body)
    saved = await person.post("/ui/profiles", data={"spec": spec, "skill": skill})
    assert saved.status_code == 204 and saved.headers["HX-Redirect"] == "/profiles/mine"
    assert workspace.profiles.get("mine").scope == "user"

    page = await person.get("/profiles/mine")
    assert EVIL not in page.text and "&lt;script&gt;" in page.text
    instructions = soup(page).select_one(".instructions")
    assert instructions.select("script, b, img, a") == []  # agent/user HTML is shown as text
    assert "<b>raw</b>" in instructions.get_text()
    assert 'href="/profiles/mine/edit"' in page.text

    form = await person.get("/profiles/mine/edit")
    assert "Never run" in soup(form).select_one("textarea[name=skill]").get_text()
    changed = await person.post(
        "/ui/profiles",
        data={
            "spec": spec.replace("name: Mine", "name: Mine Two"),
            "skill": skill,
            "editing": "mine",
        },
    )
    assert changed.status_code == 204
    assert workspace.profiles.get("mine").spec.name == "Mine Two"

    renamed = await person.post(
        "/ui/profiles",
        data={"spec": spec.replace("id: mine", "id: other"), "skill": skill, "editing": "mine"},
    )
    assert renamed.status_code == 422 and "differs from the profile being edited" in renamed.text

    gone = await person.post("/ui/profiles/mine/delete")
    assert gone.status_code == 204
    assert (await person.get("/profiles/mine")).status_code == 404


async def test_a_malformed_profile_is_refused_with_file_field_and_line(
    person: httpx.AsyncClient,
) -> None:
    spec, skill = _files("mine")
    bad = await person.post(
        "/ui/profiles", data={"spec": spec + "maxTurns: 5\nhooks: [x]\n", "skill": skill}
    )
    assert bad.status_code == 422
    assert "profile.yaml:10: hooks: is refused" in bad.text
    worse = await person.post(
        "/ui/profiles",
        data={
            "spec": spec.replace("[claude]", "[claude, codex]") + "maxTurns: 5\n",
            "skill": skill,
        },
    )
    assert "profile.yaml:9: maxTurns: has no effect on codex" in worse.text


async def test_customizing_a_builtin_saves_a_user_override(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    page = await person.get("/profiles/editor")
    assert 'href="/profiles/new?copy=editor"' in page.text
    form = soup(await person.get("/profiles/new", params={"copy": "editor"}))
    spec = (
        form.select_one("textarea[name=spec]")
        .get_text()
        .replace("name: Editor", "name: House Editor")
    )
    skill = form.select_one("textarea[name=skill]").get_text()
    saved = await person.post("/ui/profiles", data={"spec": spec, "skill": skill})
    assert saved.status_code == 204
    overridden = workspace.profiles.get("editor")
    assert overridden.scope == "user" and overridden.spec.name == "House Editor"
    detail = await person.get("/profiles/editor")
    assert "overrides the builtin profile of the same id" in detail.text
    builtin_edit = await person.get("/profiles/researcher/edit")
    assert builtin_edit.status_code == 404


async def test_blueprint_gallery_and_a_form_generated_from_variables(
    client: httpx.AsyncClient,
) -> None:
    gallery = await client.get("/blueprints")
    assert gallery.status_code == 200
    assert len(soup(gallery).select(".profile-card")) >= 12
    assert soup(gallery).select_one("#blueprints-not-built") is None  # every pattern runs

    page = await client.get("/blueprints/code-review-pipeline")
    form = soup(page).select_one("#blueprint-form")
    assert form.select_one("input[name=target]").has_attr("required")
    focus = [o["value"] for o in form.select("select[name=focus] option")]
    assert focus == ["all", "security", "performance", "readability"]
    assert form.select_one("textarea[name=context]") is not None
    assert [i["value"] for i in form.select("input[name=include_tests]")] == ["false", "true"]
    assert form.select_one("input[name=include_tests][type=checkbox]").has_attr("checked")
    run = form.find("button", string="Run")
    assert run is not None and not run.has_attr("disabled")
    assert run["hx-post"] == "/ui/blueprints/code-review-pipeline/run"

    meals = soup(await client.get("/blueprints/meal-planning"))
    days = meals.select_one("input[name=days]")
    assert (days["type"], days["min"], days["max"], days["value"]) == ("number", "1", "14", "7")


async def test_preview_resolves_steps_with_the_values_and_never_runs(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    params = [("target", f"src/{EVIL}"), ("include_tests", "false")]
    preview = await client.get("/ui/blueprints/code-review-pipeline/preview", params=params)
    assert preview.status_code == 200
    steps = soup(preview).select(".resolved-steps > li")
    assert len(steps) == 3
    assert EVIL not in preview.text and "src/&lt;script&gt;" in preview.text
    assert "Skipped by their condition: test-gaps" in preview.text
    ticked = await client.get(
        "/ui/blueprints/code-review-pipeline/preview",
        params=[("target", "x"), ("include_tests", "false"), ("include_tests", "true")],
    )
    assert len(soup(ticked).select(".resolved-steps > li")) == 4
    assert workspace.tasks.list() == []

    missing = await client.get("/ui/blueprints/code-review-pipeline/preview", params={"target": ""})
    assert "variable target: What to review is required" in missing.text
    assert soup(missing).select_one(".error-box") is not None


async def test_run_starts_the_blueprint_as_a_workflow_or_says_why_not(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    form = {"goal": "quick dinners", "days": "3", "run.runtime": "scripted", "run.project": ""}
    ran = await client.post("/ui/blueprints/meal-planning/run", data=form)
    (workflow,) = workspace.workflows.list()
    assert ran.headers["HX-Redirect"] == f"/workflows/{workflow.id}"
    assert workflow.definition.blueprint is not None
    assert workflow.definition.blueprint["variables"] == {
        "goal": "quick dinners", "restrictions": None, "days": 3, "people": 2
    }  # fmt: skip
    detail = soup(await client.get(f"/workflows/{workflow.id}")).select_one(".lineage")
    assert detail is not None
    assert "Made from the blueprint meal-planning 1.0.0 with goal = quick dinners" in detail.text

    refused = await client.post(
        "/ui/blueprints/meal-planning/run", data={"goal": "g", "run.runtime": "anthropic"}
    )
    assert refused.status_code == 422
    assert "health-coach does not support the anthropic runtime" in refused.text
    assert len(workspace.workflows.list()) == 1

    api = await client.post(
        "/api/v1/blueprints/research-deep-dive/run",
        json={"variables": {"topic": "WebAssembly"}, "runtime": "scripted"},
    )
    assert api.status_code == 201
    assert api.json()["pattern"] == "parallel" and api.json()["status"] == "running"
    assert api.json()["definition"]["blueprint"]["id"] == "research-deep-dive"
    bad = await client.post("/api/v1/blueprints/research-deep-dive/run", json={"variables": {}})
    assert bad.status_code == 422 and bad.json()["error"].startswith("variable topic:")


async def test_the_api_returns_what_the_cli_prints(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    from typer.testing import CliRunner

    from stagent.cli.app import app as cli_app

    def cli_json(*args: str) -> object:
        home = str(workspace.settings.home)
        result = CliRunner().invoke(cli_app, ["--home", home, *args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    api_profile = (await client.get("/api/v1/profiles/code-reviewer")).json()
    assert api_profile == cli_json("profile", "show", "code-reviewer")
    listed = (await client.get("/api/v1/profiles", params={"domain": "personal"})).json()
    assert listed["data"] == cli_json("profile", "list", "--domain", "personal")
    assert (await client.get("/api/v1/blueprints/bug-triage")).json() == cli_json(
        "blueprint", "show", "bug-triage"
    )
    resolved = await client.post(
        "/api/v1/blueprints/release-notes/resolve", json={"variables": {"version": "2.0"}}
    )
    assert resolved.status_code == 200
    assert resolved.json() == cli_json(
        "blueprint", "run", "release-notes", "--dry-run", "--var", "version=2.0"
    )
    route = await client.get("/api/v1/profiles/route", params={"title": "Translate to French"})
    assert route.json()["profile_id"] == "translator"

    bad = await client.post("/api/v1/blueprints/release-notes/resolve", json={"variables": {}})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("variable version:")
    assert (await client.get("/api/v1/profiles/nobody")).status_code == 404


async def test_the_person_runs_smoke_tests_from_the_page_and_sees_the_verdict(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagent.testing.anthropic_server import AnthropicScriptServer
    from stagent.testing.model_script import ModelScript, ModelTurn, ScriptBook
    from stagent.web.app import create_app

    class Always(ScriptBook):
        def select(self, request_text: str) -> ModelScript:
            del request_text
            return ModelScript(name="fr", turns=[ModelTurn(text="Bonjour, merci beaucoup.")])

    with AnthropicScriptServer(Always()) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-key")
        async with asgi_client(create_app(worker)) as client:
            anonymous = await with_csrf(client)
            refused = await anonymous.post(
                "/ui/profiles/translator/test", data={"runtime": "anthropic"}
            )
            assert refused.status_code == 403
            signed = await client.get(f"/?token={worker.owner_token()}")
            assert signed.status_code == 303
            page = await client.get("/profiles/translator")
            assert "Run smoke tests" in page.text
            started = await client.post(
                "/ui/profiles/translator/test", data={"runtime": "anthropic"}
            )
            assert started.status_code == 200
            assert "running" in started.text and 'hx-trigger="every 2s"' in started.text
            for _ in range(200):
                fragment = await client.get("/ui/profiles/translator/results")
                if "every 2s" not in fragment.text:
                    break
                await asyncio.sleep(0.1)
            assert "passed" in fragment.text and "Bonjour, merci beaucoup." in fragment.text
    [run] = worker.profiles.results.runs("translator")
    assert run["passed"] is True and run["runtime"] == "anthropic"


async def test_the_boards_new_task_form_offers_profiles_and_checks_them(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    board = soup(await client.get("/board"))
    options = [o["value"] for o in board.select("#new-task select[name=profile] option")]
    assert options[:2] == ["", "auto"] and "code-reviewer" in options and len(options) >= 54
    made = await client.post(
        "/ui/tasks", data={"title": "Review it", "runtime": "claude", "profile": "code-reviewer"}
    )
    assert made.status_code == 200
    [task] = workspace.tasks.list()
    assert task.profile == "code-reviewer"
    wrong = await client.post(
        "/ui/tasks", data={"title": "x", "runtime": "anthropic", "profile": "code-reviewer"}
    )
    assert wrong.status_code == 422
    assert "code-reviewer does not support the anthropic runtime" in wrong.text


BROKEN_SPEC = """id: broken
name: Broken
version: one
supportedRuntimes: [claude]
maxTurn: 5
"""


async def test_a_broken_user_profile_names_each_problem_with_its_fix(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    """The API's 422 lists every problem of the two files, each placed with its own fix; the
    Profiles page shows them as a list (fix beside each) and still the other profiles; the
    editor's refusal lists them the same way."""
    folder = workspace.profiles.dirs.user / "broken"
    folder.mkdir(parents=True)
    (folder / "profile.yaml").write_text(BROKEN_SPEC)
    (folder / "SKILL.md").write_text("---\nname: broken\n---\nReview it.\n")
    response = await person.get("/api/v1/profiles/broken")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["file"].rsplit("/", 1)[-1], e["line"], e["field"]) for e in errors] == [
        ("SKILL.md", 2, "description"),
        ("profile.yaml", 3, "version"),
        ("profile.yaml", 5, "maxTurn"),
    ]
    assert errors[1]["hint"] == "e.g. version: 1.0.0"
    assert errors[2]["message"] == "unknown field (did you mean maxTurns?)"

    page = await person.get("/profiles")
    assert page.status_code == 200
    box = soup(page).select_one("article.error-box")
    assert box is not None and "user profile broken was not loaded" in box.get_text()
    items = [li.get_text(" ", strip=True) for li in box.select("ul.problems li")]
    assert len(items) == 3
    assert items[1].endswith("version: 'one' is not a semantic version fix: e.g. version: 1.0.0")
    assert "maxTurn: unknown field (did you mean maxTurns?)" in items[2]
    assert len(soup(page).select("#gallery .profile-card")) >= 52

    spec, skill = _files("mine")
    refused = await person.post(
        "/ui/profiles", data={"spec": spec + "maxTurn: 5\nhooks: [x]\n", "skill": skill}
    )
    assert refused.status_code == 422
    listed = [li.get_text(" ", strip=True) for li in soup(refused).select("ul.problems li")]
    assert listed == [
        "(new profile)/profile.yaml:9: maxTurn : unknown field (did you mean maxTurns?) "
        "fix: the fields here are: id, name, version, domain, tags, supportedRuntimes, model, "
        "allowedTools, canUseToolPolicy, maxTurns, maxBudgetUsd, mcpServers, runtimeOverrides, "
        "tests, author, source, hooks, outputFormat",
        "(new profile)/profile.yaml:10: hooks : is refused: Stagent does not run profile hooks "
        "fix: remove hooks (permission rules and canUseToolPolicy decide tool calls)",
    ]


async def test_a_profile_file_that_is_not_yaml_hides_no_other_problem(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    """A YAML syntax error is one placed problem with what to check: the other file's problems
    and another broken profile's still show on the Profiles page, each with its fix."""
    root = workspace.profiles.dirs.user
    (root / "broken").mkdir(parents=True)
    (root / "broken" / "profile.yaml").write_text("id: broken\nname: [Broken\n")
    (root / "broken" / "SKILL.md").write_text("---\nname: broken\n---\nReview it.\n")
    (root / "snaky").mkdir()
    (root / "snaky" / "profile.yaml").write_text("id: snaky\nname: S\nmax_turns: 0\n")
    (root / "snaky" / "SKILL.md").write_text("---\nname: snaky\ndescription: a: b\n---\nGo.\n")
    response = await person.get("/api/v1/profiles/broken")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["file"].rsplit("/", 1)[-1], e["line"], e["field"]) for e in errors] == [
        ("SKILL.md", 2, "description"),
        ("profile.yaml", 3, "profile"),
    ]
    assert errors[1]["message"] == "is not valid YAML: did not find expected ',' or ']'"
    assert errors[1]["hint"] == "close the [ or { opened at line 2, column 7"

    page = await person.get("/profiles")
    boxes = {
        box.get_text(" ", strip=True).split(" was not loaded")[0]: box
        for box in soup(page).select("article.error-box")
    }
    assert set(boxes) >= {"user profile broken", "user profile snaky"}
    broken = [li.get_text(" ", strip=True) for li in boxes["user profile broken"].select("li")]
    assert broken[1].endswith(
        "profile.yaml:3: profile: is not valid YAML: did not find expected ',' or ']' "
        "fix: close the [ or { opened at line 2, column 7"
    )
    snaky = [li.get_text(" ", strip=True) for li in boxes["user profile snaky"].select("li")]
    assert [item.split("/snaky/", 1)[1].split(" fix: ")[0] for item in snaky] == [
        "SKILL.md:3: front matter: is not valid YAML: mapping values are not allowed in this "
        "context",
        "profile.yaml:3: max_turns: 0 is out of range (1 to 500)",
    ]
    assert len(soup(page).select("#gallery .profile-card")) >= 52
