"""`stagent profile ...` and `stagent blueprint ...`, in human and JSON modes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error

from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ModelTurn, ScriptBook
from stagent.workspace import Workspace


def test_list_filters_and_json_shape(cli: Cli) -> None:
    every = cli.json("profile", "list")
    assert len(every) >= 52
    assert {"id", "name", "domain", "runtimes", "tools", "scope", "tests"} <= set(every[0])
    personal = cli.json("profile", "list", "--domain", "personal")
    assert personal and all(p["domain"] == "personal" for p in personal)
    on_anthropic = cli.json("profile", "list", "--runtime", "anthropic")
    assert {p["id"] for p in on_anthropic} >= {"editor", "translator", "general"}
    assert "code-reviewer" not in {p["id"] for p in on_anthropic}
    found = cli.json("profile", "list", "--search", "translat")
    assert [p["id"] for p in found] == ["translator"]
    human = cli("profile", "list", "--domain", "personal")
    assert "travel-planner" in human.stdout and "profiles" in human.stdout


def test_show_says_what_the_profile_sets_on_each_runtime(cli: Cli) -> None:
    shown = cli.json("profile", "show", "researcher")
    assert shown["instructions"].startswith("# Researcher")
    claude = next(o for o in shown["options"] if o["runtime"] == "claude")
    assert claude["tools"] == ["WebSearch", "WebFetch", "Read", "Grep"]
    assert "Write" in claude["auto_deny"] and claude["max_turns"] == 40
    human = cli("profile", "show", "researcher")
    assert "denied: Write" not in human.stdout  # the deny list starts with Bash
    assert "denied: Bash, Write" in human.stdout
    assert "Smoke tests" in human.stdout
    missing = cli("profile", "show", "nobody")
    assert_one_line_error(missing, contains="no profile 'nobody'")


def test_install_writes_a_claude_code_skill(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "person"))
    installed = cli.json("profile", "install", "code-reviewer")
    skill = tmp_path / "person" / ".claude" / "skills" / "code-reviewer"
    assert installed["path"] == str(skill)
    text = (skill / "SKILL.md").read_text()
    assert text.startswith("---\nname: code-reviewer\ndescription: ")
    assert (skill / "profile.yaml").is_file()
    again = cli("profile", "install", "code-reviewer")
    assert_one_line_error(again, contains="already exists")
    assert cli("profile", "install", "code-reviewer", "--force").exit_code == 0
    target = cli.json("profile", "install", "editor", "--target", str(tmp_path / "skills"))
    assert Path(target["path"], "SKILL.md").is_file()


def test_export_then_import_overrides_the_builtin_in_the_user_scope(
    cli: Cli, tmp_path: Path
) -> None:
    exported = cli.json("profile", "export", "editor", str(tmp_path / "out"))
    folder = Path(exported["path"])
    spec = folder / "profile.yaml"
    spec.write_text(spec.read_text().replace("name: Editor", "name: My Editor"))
    imported = cli.json("profile", "import", str(folder))
    assert imported["name"] == "My Editor" and imported["scope"] == "user"
    shown = cli.json("profile", "show", "editor")
    assert shown["name"] == "My Editor"
    assert shown["overrides"] == ["builtin"]
    twice = cli("profile", "import", str(folder))
    assert_one_line_error(twice, contains="already exists")


def test_import_of_a_malformed_profile_names_file_field_and_line(cli: Cli, tmp_path: Path) -> None:
    folder = Path(cli.json("profile", "export", "editor", str(tmp_path / "out"))["path"])
    spec = folder / "profile.yaml"
    spec.write_text(spec.read_text() + "hooks: {preToolCall: [lint]}\n")
    result = cli("profile", "import", str(folder))
    line = assert_one_line_error(result, contains="profile.yaml:")
    assert "hooks: is refused: Stagent does not run profile hooks" in line


def test_route_explains_its_pick(cli: Cli) -> None:
    decision = cli.json("profile", "route", "Review the pull request", "--description", "the diff")
    assert decision["profile_id"] == "code-reviewer"
    assert decision["matched"] == ["review", "pull request", "diff"]
    assert not decision["fallback"]


class _Always(ScriptBook):
    """Every request gets the same script (the smoke test prompts carry no marker)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.script = ModelScript(name="smoke", turns=[ModelTurn(text=text)])

    def select(self, request_text: str) -> ModelScript:
        del request_text
        return self.script


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicScriptServer]:
    with AnthropicScriptServer(_Always("They're going to the meeting tomorrow.")) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-key")
        yield server


def test_a_smoke_test_runs_as_a_real_task_on_the_model_and_is_recorded(
    cli: Cli, model: AnthropicScriptServer
) -> None:
    outcome = cli.json("profile", "test", "editor", "--runtime", "anthropic")
    assert outcome["passed"] is True
    [result] = outcome["results"]
    assert result["status"] == "completed" and result["missing"] == []
    assert "They're going" in result["answer"]

    [request] = [r for r in model.requests if r.get("path", "").startswith("/v1/messages")]
    assert request["system"].startswith("# Editor"), "the profile's instructions reached it"
    task = cli.json("task", "show", result["task_id"])
    assert task["status"] == "completed"
    shown = cli.json("profile", "show", "editor")
    assert shown["last_results"][0]["passed"] is True
    assert shown["last_results"][0]["runtime"] == "anthropic"


def test_a_smoke_test_whose_answer_misses_a_keyword_fails(
    cli: Cli, model: AnthropicScriptServer
) -> None:
    result = cli("profile", "test", "translator", "--runtime", "anthropic")
    assert result.exit_code == 1
    assert "fail 1." in result.stdout and "missing merci" in result.stdout
    assert "a smoke test failed on anthropic" in result.stderr
    shown = cli.json("profile", "show", "translator")
    assert shown["last_results"][0]["results"][0]["missing"] == ["merci"]


def test_a_smoke_test_needs_a_model_and_a_claimed_runtime(cli: Cli) -> None:
    simulated = cli("profile", "test", "editor", "--runtime", "scripted")
    assert_one_line_error(simulated, contains="a smoke test needs a model")
    unclaimed = cli("profile", "test", "code-reviewer", "--runtime", "anthropic")
    assert_one_line_error(unclaimed, contains="does not support the anthropic runtime")


def test_blueprint_list_show_and_a_dry_run_that_resolves_without_running(cli: Cli) -> None:
    listed = cli.json("blueprint", "list")
    assert len(listed) >= 12
    assert {b["pattern"] for b in listed} == {
        "sequence", "parallel", "checkpoint", "planner-executor", "loop", "swarm"
    }  # fmt: skip
    shown = cli.json("blueprint", "show", "bug-triage")
    assert shown["pattern"] == "swarm" and shown["settings"] == {"swarm": {"workerConcurrency": 2}}

    ran = cli.json(
        "blueprint", "run", "bug-triage", "--dry-run", "--var", "bug_report=Login fails on Safari"
    )
    assert ran["ran"] is False and "nothing was stored or run" in ran["reason"]
    definition = ran["definition"]
    assert definition["name"] == "Bug triage swarm: Login fails on Safari"
    assert definition["swarm"] == {"worker_concurrency": 2}
    assert "Login fails on Safari" in definition["steps"][0]["prompt"]

    human = cli("blueprint", "run", "release-notes", "--dry-run", "--var", "version=2.0")
    assert human.exit_code == 0
    assert "1. Collect changes" in human.stdout and "skipped by its condition: announcement" in (
        human.stdout
    )
    assert "A preview" in human.stderr
    assert cli.json("workflow", "list") == []


def test_blueprint_run_starts_a_workflow_that_runs_here_without_a_worker(cli: Cli) -> None:
    ran = cli.json("blueprint", "run", "meal-planning", "--var", "goal=quick dinners")
    assert ran["status"] == "completed", ran["stop_reason"]
    assert ran["name"] == "Meal planning: quick dinners"
    assert ran["definition"]["blueprint"]["id"] == "meal-planning"
    assert [s["status"] for s in ran["steps"]] == ["completed"] * 3
    (listed,) = cli.json("workflow", "list")
    assert listed["id"] == ran["id"]

    # A gated blueprint runs (here on the test's worker) and waits at its checkpoint.
    ws = Workspace.temporary(cli.home).open()
    ws.start_worker("worker")
    try:
        gated = cli.json(
            "blueprint", "run", "release-notes", "--var", "version=2", "--var", "announce=yes"
        )
        assert gated["status"] == "running"
        deadline = time.monotonic() + 60
        while not (cards := cli.json("inbox")):
            assert time.monotonic() < deadline, "no checkpoint card"
            time.sleep(0.1)
        assert cards[0]["kind"] == "checkpoint"
        cli.json("approve", cards[0]["id"], "--comment", "short, please")
        done = ws.workflows.wait(gated["id"], timeout=60)
        assert done.status.value == "completed", done.stop_reason
    finally:
        ws.stop_worker()
        ws.close()


def test_blueprint_run_refuses_bad_variables_in_one_line(cli: Cli) -> None:
    missing = cli("blueprint", "run", "bug-triage")
    assert_one_line_error(missing, contains="variable bug_report: Bug report is required")
    wrong = cli("blueprint", "run", "bug-triage", "--var", "bug_report=x", "--var", "severity=meh")
    assert_one_line_error(wrong, contains="variable severity: 'meh' is not one of")
    shape = cli("blueprint", "run", "bug-triage", "--var", "oops")
    assert_one_line_error(shape, contains="expected key=value")
    as_json = cli("blueprint", "run", "bug-triage", "--json")
    assert json.loads(as_json.stdout)["code"] == "invalid_input"
