"""``stagent inbox``, ``approve``, ``deny``, ``answer`` and ``rules``, with and without --json."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clitools import Cli, assert_one_line_error

from stagent.domain.approvals import Approval
from stagent.engine.services import TaskDraft
from stagent.governance.approvals import ApprovalDraft
from stagent.store import lifecycle
from stagent.workspace import Workspace

EVIL = "[bold red]rm -rf /[/] <script>"


@pytest.fixture
def ws(cli: Cli) -> Iterator[Workspace]:
    """The CLI's own workspace, opened in the test (where agents' cards come from)."""
    workspace = Workspace.temporary(cli.home).open()
    try:
        yield workspace
    finally:
        workspace.close()


def open_card(ws: Workspace, tool: str = "Bash", **tool_input: Any) -> Approval:
    """A pending card of a running task."""
    task = ws.tasks.create(TaskDraft(title="t"))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, task.options)
        claim = lifecycle.claim(session, task.id, 1)
        assert claim is not None
    question = tool == "AskUserQuestion"
    card, _ = ws.approvals.open(
        ApprovalDraft(
            task_id=task.id,
            run_id=claim.run.id,
            runtime="scripted",
            tool=tool,
            input=tool_input or {"command": "npm test"},
            kind="question" if question else "permission",
            risk="high",
            suggested_rule=None if question else "Bash(npm test *)",
        )
    )
    return card


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are not folded, so the tests can find whole values in them."""
    monkeypatch.setenv("COLUMNS", "250")


def test_inbox_lists_pending_cards(cli: Cli, ws: Workspace) -> None:
    assert "Nothing is waiting" in cli("inbox").stdout
    assert cli.json("inbox") == []
    card = open_card(ws, command=EVIL)

    items = cli.json("inbox")
    assert [i["id"] for i in items] == [card.id]
    item = items[0]
    assert item["tool"] == "Bash" and item["input"] == {"command": EVIL}
    assert item["task_id"] == card.task_id and item["kind"] == "permission"
    assert item["risk"] == "high" and item["suggested_rule"] == "Bash(npm test *)"
    assert item["created_at"]
    human = cli("inbox")
    assert human.exit_code == 0 and card.id in human.stdout
    assert "[bold red]rm -rf /[/]" in human.stdout  # printed as text, not as markup


def test_approve_once_and_always(cli: Cli, ws: Workspace) -> None:
    once = open_card(ws)
    result = cli.json("approve", once.id)
    assert result["status"] == "allowed"
    assert result["decided_by"] == "person (via CLI, owner token file)"
    assert result["decision"]["always"] is False

    always = open_card(ws)
    saved = cli.json("approve", always.id, "--always", "--scope", "global", "--rule", "Bash(npm *)")
    assert saved["decision"]["rule"] == "Bash(npm *)" and saved["decision"]["scope"] == "global"
    assert [r["rule"] for r in cli.json("rules", "list")] == ["Bash(npm *)"]
    human = cli("approve", open_card(ws).id, "--always")
    assert "saved allow rule Bash(npm test *) at task scope" in human.stdout

    again = cli("approve", once.id)
    assert_one_line_error(
        again, contains="was already allowed (by person (via CLI, owner token file))"
    )
    bad = cli.json("approve", open_card(ws).id, "--always", "--rule", "Bash((", expect_exit=1)
    assert bad["code"] == "invalid_input"


def test_deny_with_a_message_and_answer_questions(cli: Cli, ws: Workspace) -> None:
    card = open_card(ws)
    denied = cli.json("deny", card.id, "--message", "use make instead")
    assert denied["status"] == "denied" and denied["decision"]["message"] == "use make instead"

    questions = [
        {"question": "Which color?", "options": [{"label": "red"}, {"label": "blue"}]},
        {"question": "Which size?", "options": [{"label": "S"}, {"label": "L"}]},
    ]
    question = open_card(ws, "AskUserQuestion", questions=questions)
    wrong = cli("answer", question.id, "red")
    assert_one_line_error(wrong, contains="asks 2 question(s) and got 1 answer(s)")
    answered = cli.json("answer", question.id, "2", "extra large")
    assert answered["decision"]["answers"] == {"Which color?": "blue", "Which size?": "extra large"}
    not_a_question = cli("answer", open_card(ws).id, "yes")
    assert_one_line_error(not_a_question, contains="is a permission request, not a question")
    missing = cli("approve", "apr_nope")
    assert_one_line_error(missing, contains="no approval request with id 'apr_nope'")


def test_inbox_watch_streams_new_and_closed_cards(
    cli: Cli, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagent.cli import inbox as inbox_command

    first = open_card(ws)
    watching = threading.Event()
    real_watch = inbox_command._watch  # pyright: ignore[reportPrivateUsage]

    def watch(*args: Any, **kwargs: Any) -> None:
        watching.set()  # the pending cards are listed; the feed is read from here on
        real_watch(*args, **kwargs)

    monkeypatch.setattr(inbox_command, "_watch", watch)

    def agent_and_person() -> None:
        # A card added before `inbox --watch` listed the pending ones would be listed as
        # pending, and the watch would wait for a second event forever (CLI start-up under load).
        assert watching.wait(60)
        second = open_card(ws, command="make")
        ws.approvals.deny(second.id, by="person (via UI)", message="no")

    helper = threading.Thread(target=agent_and_person, daemon=True)
    helper.start()
    result = cli("inbox", "--watch", "--limit", "2", "--json")
    helper.join()
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(line["event"], line["approval"]["tool"]) for line in lines] == [
        ("pending", "Bash"),
        ("added", "Bash"),
        ("closed", "Bash"),
    ]
    assert lines[0]["approval"]["id"] == first.id
    assert lines[2]["approval"]["decided_by"] == "person (via UI)"


def test_rules_commands(cli: Cli, tmp_path: Path) -> None:
    added = cli.json("rules", "add", "Bash(git status *)")
    assert added["effect"] == "allow" and added["scope"] == "global"
    cli.json("project", "add", "alpha")
    scoped = cli.json("rules", "add", "Bash(rm *)", "--effect", "deny", "--project", "alpha")
    assert scoped["scope"] == "project" and scoped["scope_ref"].startswith("prj_")
    refused = cli("rules", "add", "Bash(npm run")
    assert_one_line_error(refused, contains="Bash(npm run")
    assert [r["rule"] for r in cli.json("rules", "list", "--project", "alpha")] == ["Bash(rm *)"]

    applied = cli.json("rules", "preset", "apply", "read-only")
    assert applied["added"] and applied["removed"] == 0
    presets = {p["name"]: p["active"] for p in cli.json("rules", "preset", "list")}
    assert presets == {"read-only": True, "git-safe": False, "full-auto": False}
    removed = cli.json("rules", "preset", "remove", "read-only")
    assert removed["removed"] == len(applied["added"])

    target = tmp_path / ".claude" / "settings.json"
    exported = cli.json("rules", "export", str(target))
    assert [r["rule"] for r in exported["exported"]] == ["Bash(git status *)"]
    assert json.loads(target.read_text())["permissions"]["allow"] == ["Bash(git status *)"]
    assert cli.json("rules", "remove", added["id"])["id"] == added["id"]
    imported = cli.json("rules", "import", str(target))
    assert [r["rule"] for r in imported["added"]] == ["Bash(git status *)"]
    human = cli("rules", "list")
    assert "Bash(git status *)" in human.stdout and "import:" in human.stdout


def test_a_workflow_checkpoint_is_decided_with_the_same_commands(
    cli: Cli, ws: Workspace, tmp_path: Path
) -> None:
    import yaml

    from stagent.testing.workflows import step

    path = tmp_path / "gated.yaml"
    steps = [step("review", "found a bug"), step("fix", "fixed", requires_approval=True)]
    path.write_text(yaml.safe_dump({"name": "gated", "pattern": "sequence", "steps": steps}))
    ws.start_worker("worker")
    try:
        started = cli.json("workflow", "run", str(path))
        assert started["status"] == "running"
        deadline = time.monotonic() + 60
        while not (items := cli.json("inbox")):
            assert time.monotonic() < deadline, "no checkpoint card"
            time.sleep(0.1)
        (item,) = items
        assert item["kind"] == "checkpoint" and item["tool"] == "WorkflowCheckpoint"
        assert item["input"]["step"] == "fix" and item["expires_at"] is None
        human = cli("inbox")
        assert "workflow gated: start step Fix?" in human.stdout
        refused = cli("approve", item["id"], "--always")
        assert_one_line_error(refused, contains="approved once, with no rule")
        approved = cli.json("approve", item["id"], "--comment", "keep it small")
        assert approved["status"] == "allowed"
        assert approved["decision"]["comment"] == "keep it small"
        done = ws.workflows.wait(started["id"], timeout=30)
        assert done.status.value == "completed", done.stop_reason
        fix_task = cli.json("task", "show", done.steps[1].task_id or "")
        assert fix_task["description"].endswith(
            "Reviewer's comment at the checkpoint:\nkeep it small"
        )
        again = cli.json("workflow", "rerun", started["id"], "fix")
        assert again["run_count"] == 2
        card = next(c for c in iter(lambda: cli.json("inbox"), None) if c)[0]
        human = cli("deny", card["id"], "--message", "enough")
        assert human.exit_code == 0
        rejected = ws.workflows.wait(started["id"], timeout=30)
        assert rejected.stop_reason == (
            "step fix failed: rejected at the checkpoint by person (via CLI, owner token file): "
            "enough"
        )
        shown = cli("workflow", "show", started["id"])
        assert "review (Review): completed" in shown.stdout
    finally:
        ws.stop_worker()
