"""`stagent task add/list/show/run/cancel`, in human and JSON modes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import Cli

from stagent.workspace import Workspace

TASK_KEYS = {
    "id",
    "status",
    "title",
    "description",
    "result",
    "error",
    "runtime",
    "simulated",
    "project_id",
    "run_count",
}
EVENT_KEYS = {"seq", "task_id", "run_id", "subject", "kind", "payload", "summary", "created_at"}


def test_add_with_scenario_then_run_follow_streams_and_completes(
    cli: Cli, hello_scenario: Path
) -> None:
    added = cli("task", "add", "hello", "--runtime", "scripted", "--scenario", str(hello_scenario))
    assert added.exit_code == 0, added.output
    task_id = added.stdout.split("Created task ", 1)[1].split(":", 1)[0]

    result = cli("task", "run", task_id, "--follow")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    order = ["planned -> queued", "queued -> running", "Looking at the task.", "tool Write"]
    order += ["usage scripted-1", "result: Done.", "running -> completed"]
    positions = [next(i for i, line in enumerate(lines) if text in line) for text in order]
    assert positions == sorted(positions)
    assert lines[-1] == f"Task {task_id} completed."


def test_task_json_shapes(cli: Cli, hello_scenario: Path) -> None:
    added = cli.json(
        "task", "add", "hello", "--description", "say hi", "--scenario", str(hello_scenario)
    )
    assert set(added) >= TASK_KEYS
    assert added["status"] == "planned"
    assert added["simulated"] is True
    assert added["description"] == "say hi"
    assert "events" not in added

    ran = cli.json("task", "run", added["id"])
    assert ran["status"] == "completed"
    assert ran["result"] == "Done."
    assert ran["run_count"] == 1
    assert ran["events"], "run --json carries the event log"
    assert all(set(event) == EVENT_KEYS for event in ran["events"])
    assert ran["events"][-1]["payload"] == {"from": "running", "to": "completed", "run": 1}

    shown = cli.json("task", "show", added["id"])
    assert shown["status"] == "completed"
    assert [e["seq"] for e in shown["events"]] == [e["seq"] for e in ran["events"]]
    assert shown["events"][0]["kind"] == "created" and shown["events"][0]["run_id"] is None
    [run] = shown["runs"]
    assert run["number"] == 1 and run["status"] == "completed" and run["attempt"] == 1
    assert {e["run_id"] for e in shown["events"][1:]} == {run["id"]}
    assert cli.json("task", "runs", added["id"]) == shown["runs"]

    listed = cli.json("task", "list")
    assert [t["id"] for t in listed] == [added["id"]]
    assert set(listed[0]) >= TASK_KEYS


def test_run_without_follow_prints_the_final_state(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task("quiet", "--scenario", str(hello_scenario))
    result = cli("task", "run", task_id)
    assert result.exit_code == 0, result.output
    assert "Done." in result.stdout
    assert "scripted (simulated)" in result.stdout
    assert "Looking at the task." not in result.stdout  # no live events without --follow


def test_default_scenario_is_used_without_scenario_file(cli: Cli) -> None:
    cli.json("rules", "add", "Read")  # the default scenario reads README.md
    task_id = cli.add_task("no scenario")
    ran = cli.json("task", "run", task_id)
    assert ran["status"] == "completed"
    assert "Simulated" in ran["result"]


def test_failing_scenario_exits_1_with_the_message(cli: Cli, failing_scenario: Path) -> None:
    task_id = cli.add_task("doomed", "--scenario", str(failing_scenario))

    result = cli("task", "run", task_id, "--follow")

    assert result.exit_code == 1
    assert "error: simulated provider error" in result.stdout
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error_lines == [f"Error: task {task_id} failed: simulated provider error"]


def test_failing_scenario_json_prints_the_failed_task(cli: Cli, failing_scenario: Path) -> None:
    task_id = cli.add_task("doomed", "--scenario", str(failing_scenario))
    failed = cli.json("task", "run", task_id, expect_exit=1)
    assert failed["status"] == "failed"
    assert failed["error"] == "simulated provider error"


def test_rerun_streams_only_the_new_run(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task("twice", "--scenario", str(hello_scenario))
    assert cli("task", "run", task_id).exit_code == 0
    second = cli("task", "run", task_id, "--follow")
    assert second.exit_code == 0, second.output
    assert "completed -> queued" in second.stdout
    assert "planned -> queued" not in second.stdout
    assert cli.json("task", "show", task_id)["run_count"] == 2


def test_list_filters_by_status_and_project(cli: Cli, hello_scenario: Path) -> None:
    cli.json("project", "add", "alpha")
    done = cli.add_task("done", "--scenario", str(hello_scenario), "--project", "alpha")
    cli.json("task", "run", done)
    planned = cli.add_task("later")

    assert [t["id"] for t in cli.json("task", "list", "--status", "planned")] == [planned]
    assert [t["id"] for t in cli.json("task", "list", "--status", "COMPLETED")] == [done]
    assert [t["id"] for t in cli.json("task", "list", "--project", "alpha")] == [done]

    table = cli("task", "list")
    assert table.exit_code == 0
    assert "completed" in table.stdout and "planned" in table.stdout
    assert "scripted (simulated)" in table.stdout
    assert "alpha" in table.stdout


def test_show_prints_fields_and_event_log(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task(
        "shown", "--description", "details here", "--scenario", str(hello_scenario)
    )
    result = cli("task", "show", task_id)
    assert result.exit_code == 0, result.output
    assert task_id in result.stdout
    assert "details here" in result.stdout
    assert "planned" in result.stdout
    assert "Task history (1)" in result.stdout
    assert "task created: shown" in result.stdout
    assert "Run 1" not in result.stdout


def test_show_prints_one_section_per_run(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task("twice", "--scenario", str(hello_scenario))
    assert cli("task", "run", task_id).exit_code == 0
    assert cli("task", "run", task_id).exit_code == 0
    out = cli("task", "show", task_id).stdout
    first, second = out.index("Run 1 completed"), out.index("Run 2 completed")
    assert first < second
    assert out[first:second].count("result: Done.") == 1
    assert out[second:].count("result: Done.") == 1


def test_run_options_are_checked_on_add_and_edit_naming_the_field(cli: Cli) -> None:
    bad = cli.json("task", "add", "t", "--max-turns", "0", expect_exit=1)
    assert bad["code"] == "invalid_input" and bad["error"].startswith("options.limits.max_turns:")
    wrong = cli("task", "add", "t", "--options", '{"codex": {"sandbox": "read-only"}}')
    assert wrong.exit_code == 1
    assert "options.codex: options for the codex runtime" in wrong.output
    typo = cli("task", "add", "t", "--runtime", "codex", "--options", "codex: {sandbox: open}")
    assert typo.exit_code == 1 and "options.codex.sandbox: Input should be" in typo.output
    added = cli.json("task", "add", "t", "--model", "m-1", "--max-budget", "0.5")
    assert added["options"] == {"model": "m-1", "limits": {"max_budget_usd": "0.5"}}
    edited = cli.json("task", "edit", added["id"], "--max-turns", "3")
    assert edited["options"]["limits"] == {"max_turns": 3, "max_budget_usd": "0.5"}
    refused = cli("task", "edit", added["id"], "--options", "{limits: {max_turns: many}}")
    assert refused.exit_code == 1 and "options.limits.max_turns:" in refused.output


def test_a_provider_base_url_that_is_not_http_is_refused_with_the_field_and_the_fix(
    cli: Cli,
) -> None:
    given = '{"codex": {"provider": {"base_url": "localhost:8080/v1"}}}'
    bad = cli.json("task", "add", "t", "--runtime", "codex", "--options", given, expect_exit=1)
    assert bad["error"] == (
        "options.codex.provider.base_url: 'localhost:8080/v1' is not an http(s) URL"
    )
    assert bad["hint"] == (
        "give the provider's API root, like https://api.openai.com/v1 or http://127.0.0.1:8080/v1"
    )
    assert cli.json("task", "list") == []


def test_a_provider_header_with_a_line_break_is_refused_at_add_without_its_value(
    cli: Cli,
) -> None:
    headers = {"Authorization": "Bearer sk-cli-secret\nX-Evil: 1"}
    given = json.dumps({"codex": {"provider": {"http_headers": headers}}})
    bad = cli.json("task", "add", "t", "--runtime", "codex", "--options", given, expect_exit=1)
    assert bad["error"] == (
        "options.codex.provider.http_headers: the value of 'Authorization' contains a line "
        "break or control character"
    )
    assert "sk-cli-secret" not in json.dumps(bad)
    plain = cli("task", "add", "t", "--runtime", "codex", "--options", given)
    assert plain.exit_code == 1 and "http_headers" in plain.output
    assert "sk-cli-secret" not in plain.output
    assert cli.json("task", "list") == []


def test_cancel_a_planned_task(cli: Cli) -> None:
    task_id = cli.add_task("never mind")
    result = cli("task", "cancel", task_id)
    assert result.exit_code == 0, result.output
    assert f"Task {task_id} is cancelled." in result.stdout
    cancelled = cli.json("task", "show", task_id)
    assert cancelled["status"] == "cancelled"
    assert cancelled["events"][-1]["payload"]["reason"] == "cancelled by a person"


def test_cancel_json(cli: Cli) -> None:
    task_id = cli.add_task("never mind")
    assert cli.json("task", "cancel", task_id)["status"] == "cancelled"


@pytest.mark.parametrize("priority", ["0", "4"])
def test_add_accepts_priority_bounds(cli: Cli, priority: str) -> None:
    assert cli.json("task", "add", "p", "--priority", priority)["priority"] == int(priority)


def test_empty_task_list(cli: Cli) -> None:
    assert cli.json("task", "list") == []
    assert "No tasks found" in cli("task", "list").stdout


def test_local_run_leaves_no_pending_workflow(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task("settled", "--scenario", str(hello_scenario))
    ran = cli.json("task", "run", task_id)
    with Workspace.temporary(cli.home) as ws:
        assert ws.queue.status(ran["workflow_id"]) == "SUCCESS"
    assert cli.json("task", "show", task_id)["status"] == "completed"
