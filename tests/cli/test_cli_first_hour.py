"""What a newcomer meets in the first hour, from the CLI: Claude Code's default permissions and
a ``task run`` that says what it waits for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from clitools import HELLO_SCENARIO, Cli

from stagent.domain.approvals import Approval
from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


@pytest.fixture
def ws(cli: Cli) -> Iterator[Workspace]:
    """The CLI's own workspace, opened in the test (to decide cards as a person would)."""
    workspace = Workspace.temporary(cli.home).open()
    try:
        yield workspace
    finally:
        workspace.close()


def first_card(ws: Workspace, timeout: float = 30.0) -> Approval:
    """The first pending card, once the agent asked."""
    deadline = time.monotonic() + timeout
    while not (cards := ws.approvals.list_pending()):
        assert time.monotonic() < deadline, "no card appeared"
        time.sleep(0.05)
    return cards[0]


def test_the_default_scenario_runs_in_a_fresh_workspace_without_any_rule(cli: Cli) -> None:
    assert cli.json("rules", "list") == []
    task_id = cli.add_task("no scenario")  # its scenario reads README.md in its working dir
    ran = cli.json("task", "run", task_id)
    assert ran["status"] == "completed"
    reads = [e for e in ran["events"] if e["kind"] == "tool_request"]
    assert reads and all(e["payload"]["tool"] == "Read" for e in reads)


def test_run_without_follow_says_what_it_waits_for_and_how_to_decide(
    cli: Cli, ws: Workspace, scenario_file: Callable[..., Path]
) -> None:
    path = scenario_file(HELLO_SCENARIO)  # its Write asks: no rule allows it
    task_id = cli.add_task("writes notes", "--scenario", str(path))
    seen: list[Approval] = []

    def person() -> None:
        card = first_card(ws)
        seen.append(card)
        ws.approvals.allow(card.id, by="person (via CLI)")

    helper = threading.Thread(target=person)
    helper.start()
    result = cli("task", "run", task_id)
    helper.join()
    assert result.exit_code == 0, result.output
    (card,) = seen
    assert "Waiting for you: the agent wants to use Write: notes.md" in result.stderr
    assert f"allow: stagent approve {card.id}" in result.stderr
    assert f"deny: stagent deny {card.id}" in result.stderr
    assert f"Task {task_id} completed." in result.stdout


def test_rules_default_shows_and_switches_the_mode(cli: Cli) -> None:
    assert cli.json("rules", "default")["mode"] == "claude-code"
    assert cli.json("rules", "default", "ask")["mode"] == "ask"
    shown = cli("rules", "default")
    assert "Default: ask" in shown.stdout
    assert "Every call that no rule decides asks a person" in shown.stdout
    refused = cli("rules", "default", "everything")
    assert refused.exit_code == 1
    assert "not a default mode" in refused.stderr


def test_budget_usage_keeps_every_value_whole_at_80_columns(
    cli: Cli, ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = ws.tasks.create(TaskDraft(title="spent"))
    usage = UsageEvent(model="claude-sonnet-4-5-20250929", input_tokens=123456, cost_usd=0.25)
    ws.budgets.record_usage(task, usage)
    monkeypatch.setenv("COLUMNS", "80")
    out = cli("budget", "usage").stdout
    assert "…" not in out
    joined = " ".join(out.split())
    assert task.id in joined and "claude-sonnet-4-5-20250929" in joined
    assert "in 123456" in joined and "$0.25" in joined
