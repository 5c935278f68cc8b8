"""Where no sandbox exists: every place the person decides says so, and rules that let an agent
run code need an explicit acknowledgement (CLI flag, form checkbox, API field)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stagent.cli.app import app as cli_app
from stagent.domain.code_rules import UNSANDBOXED_WARNING, UnsandboxedRuleError, runs_code
from stagent.domain.permissions import PermissionRule
from stagent.engine.services import TaskDraft
from stagent.governance.approvals import ApprovalDraft
from stagent.store import lifecycle
from stagent.web.app import create_app
from stagent.workspace import Workspace

WARNING = UNSANDBOXED_WARNING


@pytest.mark.parametrize(
    ("text", "effect", "expected"),
    [
        ("Bash", "allow", True),
        ("Bash(npm run test *)", "allow", True),  # test scripts are code
        ("Bash(git commit *)", "allow", True),  # hooks are code
        ("NotebookEdit", "allow", True),
        ("Bash(cat *)", "allow", False),
        ("Bash(git status *)", "allow", False),
        ("Bash(git branch)", "allow", False),
        ("Read", "allow", False),
        ("Bash", "deny", False),
    ],
)
def test_which_rules_let_an_agent_run_code(text: str, effect: str, expected: bool) -> None:
    rule = PermissionRule.from_text(text, effect, scope="global")  # type: ignore[arg-type]
    assert runs_code(rule) is expected


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A workspace where agents run without a sandbox (STAGENT_SANDBOX=off)."""
    monkeypatch.setenv("STAGENT_SANDBOX", "off")
    ws = Workspace.temporary(tmp_path / "home").open()
    yield ws
    ws.close()


def test_code_rules_need_acknowledgement_and_nothing_is_saved_without_it(
    bare: Workspace, tmp_path: Path
) -> None:
    assert bare.rules.contained is False
    with pytest.raises(UnsandboxedRuleError) as refused:
        bare.rules.add("Bash(npm run test *)")
    assert WARNING in str(refused.value) and "--acknowledge-risk" in refused.value.hint
    with pytest.raises(UnsandboxedRuleError):
        bare.rules.apply_preset("full-auto")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"permissions": {"allow": ["Bash(make *)", "Read"]}}))
    with pytest.raises(UnsandboxedRuleError):
        bare.rules.import_file(settings)
    assert bare.rules.list() == []
    bare.rules.add("Read")  # reading is no code
    bare.rules.apply_preset("read-only")
    assert bare.rules.add("Bash(npm run test *)", acknowledged=True).text == "Bash(npm run test *)"


def test_with_a_sandbox_no_acknowledgement_is_asked(workspace: Workspace) -> None:
    if not workspace.containment.status().available:
        pytest.skip("no sandbox on this machine")
    assert workspace.rules.add("Bash").text == "Bash"


def _cli(home: Path, *args: str) -> tuple[int, str, str]:
    runner = CliRunner(env={"STAGENT_SANDBOX": "off", "STAGENT_RAISE_ERRORS": ""})
    result = runner.invoke(cli_app, ["--home", str(home), *args])
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_asks_for_the_flag_and_doctor_says_there_is_no_sandbox(bare: Workspace) -> None:
    home = bare.settings.home
    code, _, err = _cli(home, "rules", "add", "Bash")
    assert code == 1 and WARNING in err and "--acknowledge-risk" in err
    code, _, err = _cli(home, "rules", "preset", "apply", "git-safe")
    assert code == 1 and "`Bash(git commit *)`" in err
    code, out, _ = _cli(home, "rules", "add", "Bash", "--acknowledge-risk")
    assert code == 0 and "Saved allow rule Bash" in out
    code, out, _ = _cli(home, "doctor", "--runtime", "scripted")
    assert "Sandbox: none" in out and WARNING in out.replace("\n", " ")
    code, out, _ = _cli(home, "doctor", "--runtime", "codex", "--json")
    assert json.loads(out)[0]["sandbox"] == "none"


@pytest.fixture
async def person(bare: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(bare), client=("127.0.0.1", 5000))
    headers = {"Authorization": f"Bearer {bare.owner_token()}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8765", headers=headers
    ) as client:
        yield client


async def test_the_api_needs_the_field(person: httpx.AsyncClient, bare: Workspace) -> None:
    refused = await person.post("/api/v1/rules", json={"rule": "Bash(npm run test *)"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "acknowledgement_required"
    preset = await person.post("/api/v1/rules/presets/full-auto", json={})
    assert preset.status_code == 422 and bare.rules.list() == []
    saved = await person.post(
        "/api/v1/rules", json={"rule": "Bash(npm run test *)", "acknowledge_risk": True}
    )
    assert saved.status_code in (200, 201), saved.text
    applied = await person.post("/api/v1/rules/presets/full-auto", json={"acknowledge_risk": True})
    assert applied.status_code == 200


async def test_the_pages_say_so_and_the_form_has_the_checkbox(
    person: httpx.AsyncClient, bare: Workspace
) -> None:
    bare.rules.add("Bash", acknowledged=True)
    page = (await person.get("/settings/permissions")).text
    assert "Agents run without a sandbox here" in page
    assert f"runs code: {WARNING}" in page  # the saved Bash rule and the code presets
    assert 'name="acknowledge_risk"' in page
    runtimes = (await person.get("/settings/runtimes")).text
    assert "Agents run without a sandbox here" in runtimes
    form = {"rule": "Bash(make *)", "effect": "allow", "scope": "global"}
    refused = await person.post("/ui/rules", data=form)
    assert WARNING in refused.text and "Bash(make *)" not in [r.text for r in bare.rules.list()]
    saved = await person.post("/ui/rules", data={**form, "acknowledge_risk": "true"})
    assert saved.status_code == 200 and "Saved allow rule Bash(make *)" in saved.text


def _bash_card(ws: Workspace, command: str = "npm run test") -> str:
    """A pending Bash card of a running task (no worker), suggesting a code-running rule."""
    task = ws.tasks.create(TaskDraft(title="tests"))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, ws.tasks.get(task.id).options)
        lifecycle.claim(session, task.id, 1)
    [run] = ws.tasks.runs(task.id)
    card, _ = ws.approvals.open(
        ApprovalDraft(
            task_id=task.id,
            run_id=run.id,
            runtime="scripted",
            tool="Bash",
            input={"command": command},
            suggested_rule=f"Bash({command} *)",
        )
    )
    return card.id


def test_always_allow_of_a_code_rule_needs_the_acknowledgement_too(bare: Workspace) -> None:
    """ "Always allow" saves a rule: the same acknowledgement as saving it directly."""
    home = bare.settings.home
    card = _bash_card(bare)
    code, _, err = _cli(home, "approve", card, "--always")
    assert code == 1 and WARNING in err and "--acknowledge-risk" in err
    assert bare.approvals.get(card).status == "pending" and bare.rules.list() == []
    code, out, _ = _cli(home, "approve", card, "--always", "--acknowledge-risk")
    assert code == 0 and "saved allow rule Bash(npm run test *)" in out
    assert [r.text for r in bare.rules.list()] == ["Bash(npm run test *)"]
    once = _bash_card(bare, "make")
    code, out, _ = _cli(home, "approve", once)  # allowing once saves nothing: no question
    assert code == 0 and bare.approvals.get(once).status == "allowed"


async def test_always_allow_on_the_api_and_the_card_needs_the_acknowledgement(
    person: httpx.AsyncClient, bare: Workspace
) -> None:
    card = _bash_card(bare)
    refused = await person.post(f"/api/v1/approvals/{card}/allow", json={"always": True})
    assert refused.status_code == 422 and refused.json()["code"] == "acknowledgement_required"
    page = (await person.get("/inbox")).text
    assert "Agents run without a sandbox here" in page and 'name="acknowledge_risk"' in page
    form = {"always": "1", "rule": "Bash(npm run test *)", "scope": "task"}
    clicked = await person.post(f"/ui/approvals/{card}/allow", data=form)
    assert WARNING in clicked.text and bare.approvals.get(card).status == "pending"
    done = await person.post(
        f"/ui/approvals/{card}/allow", data={**form, "acknowledge_risk": "true"}
    )
    assert done.status_code == 200 and bare.approvals.get(card).status == "allowed"
    assert [r.text for r in bare.rules.list()] == ["Bash(npm run test *)"]
