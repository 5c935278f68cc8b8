"""``stagent workflow``: add (with errors naming line, step and field), run, show, list, retry."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from clitools import Cli, assert_one_line_error

from stagent.testing.workflows import step


def write(tmp_path: Path, data: object, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_bad_definition_is_one_line_naming_file_line_step_and_field(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\npattern: sequence\nsteps:\n  - id: a\n    name: A\n")
    line = assert_one_line_error(cli("workflow", "add", str(path)), contains="field required")
    assert line == f"Error: {path}:4: steps[0].prompt (step a): field required"
    assert cli.json("workflow", "list") == []


def test_run_a_file_without_a_server_runs_it_here_to_the_end(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "two-steps",
            "pattern": "sequence",
            "steps": [step("one", "first"), step("two", "second")],
        },
    )
    done = cli.json("workflow", "run", str(path))
    assert done["status"] == "completed"
    assert [s["output"] for s in done["steps"]] == ["first", "second"]
    assert [(s["cost_usd"], s["simulated"]) for s in done["steps"]] == [("0.00", True)] * 2
    shown = cli.json("workflow", "show", done["id"])
    assert shown == done
    assert [w["id"] for w in cli.json("workflow", "list")] == [done["id"]]
    task = cli.json("task", "show", done["steps"][1]["task_id"])
    assert task["title"] == "two-steps: Two"


def test_retry_a_failed_step_from_the_cli(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "flaky",
            "pattern": "sequence",
            "steps": [step("one", "first"), step("two", "second", fail="boom")],
        },
    )
    failed = cli.json("workflow", "run", str(path), expect_exit=1)  # ran here, and failed
    assert failed["status"] == "failed"
    assert failed["stop_reason"] == "step two failed: boom"
    result = cli("workflow", "retry", failed["id"], "one")
    assert_one_line_error(result, contains="step one is completed")
    assert result.stderr.splitlines()[1] == (
        f"hint: to run it again and what depends on it: stagent workflow rerun {failed['id']} "
        "one (API: POST .../steps/one/rerun)"
    )
    result = cli("workflow", "retry", failed["id"], "two", "--json")
    assert result.exit_code == 1
    again = json.loads(result.stdout)
    assert again["status"] == "failed"  # same scenario, same failure, one new run of step two
    assert len(cli.json("task", "runs", failed["steps"][1]["task_id"])) == 2
    assert len(cli.json("task", "runs", failed["steps"][0]["task_id"])) == 1


def test_follow_tells_each_step_as_it_moves_and_exits_1_unless_completed(
    cli: Cli, tmp_path: Path
) -> None:
    """``run --follow`` says each step's move on stderr while it runs (status, time, the
    error), prints the end state with each step's time, cost and output on stdout, and exits
    1 for a failed run, 0 for a completed one -- as ``task run --follow`` does."""
    data = {
        "name": "follow-me",
        "pattern": "sequence",
        "steps": [
            step("one", "first result\nmore", delay=2),
            step("two", "second", fail="boom"),
        ],
    }
    result = cli("workflow", "run", str(write(tmp_path, data)), "--follow")
    assert result.exit_code == 1, result.output
    told = result.stderr.splitlines()
    moves = [line.split(" · ")[0].split(" task ")[0] for line in told]
    assert moves[:2] == ["  one (One): running", "  one (One): completed"]
    assert moves[-1] == "  two (Two): failed"  # (its instant run may end between two looks)
    assert told[-1].endswith(": boom")
    out = result.stdout.splitlines()
    assert out[0].endswith("follow-me - sequence - failed")
    assert out[1] == "  stopped: step two failed: boom"
    assert out[2].startswith("  one (One): completed · ")
    assert out[2].split(" · ")[1].endswith(" s")
    assert out[2].split(" · ")[2].startswith("simulated task tsk_")  # scripted: no spend
    assert out[3] == "    -> first result"
    assert out[4].startswith("  two (Two): failed · ")
    assert out[5] == "    boom"

    fixed = {**data, "name": "follow-me-2", "steps": [step("one", "first"), step("two", "ok")]}
    assert cli("workflow", "run", str(write(tmp_path, fixed, "ok.yaml")), "--follow").exit_code == 0


def test_every_pattern_is_listed_as_runnable(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, {"name": "a-gate", "pattern": "checkpoint", "steps": [step("it", "x")]})
    assert cli("workflow", "add", str(path)).exit_code == 0
    listing = cli("workflow", "list")
    assert "checkpoint" in listing.stdout and "not built yet" not in listing.stdout


def test_a_loop_shows_its_iterations_and_why_it_stopped(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "polish",
            "pattern": "loop",
            "loop": {"max_iterations": 2},
            "steps": [step("polish", "better")],
        },
    )
    done = cli.json("workflow", "run", str(path))
    assert (done["status"], done["stop_code"]) == ("completed", "max_iterations")
    assert [(s["id"], s["name"], s["role"]) for s in done["steps"]] == [
        ("polish#1", "Polish (iteration 1)", "iteration"),
        ("polish#2", "Polish (iteration 2)", "iteration"),
    ]
    shown = cli("workflow", "show", done["id"]).stdout
    assert "stopped: ran all 2 iterations [max_iterations]" in shown
    assert "polish#2 (Polish (iteration 2)): completed" in shown


def test_an_unknown_runtime_or_profile_names_file_line_step_and_field(
    cli: Cli, tmp_path: Path
) -> None:
    """Refused when the workflow is added (as `task add` refuses an unknown runtime), not
    when its run reaches the step."""
    path = tmp_path / "wf.yaml"
    path.write_text("name: x\npattern: sequence\nsteps:\n  - {id: a, name: A, prompt: p}\n")
    path.write_text(path.read_text() + "  - {id: b, name: B, prompt: p, runtime: nope}\n")
    result = cli("workflow", "add", str(path))
    line = assert_one_line_error(result, contains="unknown runtime")
    assert line == f"Error: {path}:5: steps[1].runtime (step b): unknown runtime 'nope'"
    assert "available runtimes: anthropic, claude, codex, scripted" in result.output
    path.write_text(path.read_text().replace("runtime: nope", "profile: nobody"))
    line = assert_one_line_error(cli("workflow", "add", str(path)), contains="no profile")
    assert line == f"Error: {path}:5: steps[1].profile (step b): no profile 'nobody'"
    assert cli.json("workflow", "list") == []


def test_the_help_names_all_six_patterns_as_runnable(cli: Cli) -> None:
    shown = " ".join(cli("workflow", "--help").output.split())
    assert "not built yet" not in shown
    for pattern in ("sequence", "parallel", "checkpoint", "planner-executor", "loop", "swarm"):
        assert pattern in shown


def test_a_workflow_never_run_shows_its_steps_and_how_to_run_it(cli: Cli, tmp_path: Path) -> None:
    data = {"name": "review", "pattern": "sequence", "steps": [step("one", "a"), step("two", "b")]}
    added = cli("workflow", "add", str(write(tmp_path, data)))
    assert added.exit_code == 0, added.output
    workflow_id = added.stdout.split()[0]
    for shown in (added.stdout, cli("workflow", "show", "review").stdout):
        assert shown.splitlines() == [
            f"{workflow_id} review - sequence - draft",
            "  one (One): not run yet",
            "  two (Two): not run yet",
            f"Run it with: stagent workflow run {workflow_id} --follow",
        ]
    assert cli("workflow", "run", "review").exit_code == 0
    ran = cli("workflow", "show", "review").stdout
    assert "not run yet" not in ran and "Run it with" not in ran


NEEDS_CLAUDE = """\
name: needs-claude
pattern: sequence
steps:
  - {id: plan, name: Plan, prompt: p}
  - {id: review, name: Review, prompt: p, runtime: claude}
  - {id: price, name: Price, prompt: p, runtime: anthropic}
"""


def test_a_run_whose_step_runtime_is_not_ready_is_refused_up_front(
    cli: Cli, tmp_path: Path, no_login: None
) -> None:
    """As ``task run`` refuses: before, the run was stored and started, and failed at the
    step with the runtime's own "Not logged in"."""
    path = tmp_path / "wf.yaml"
    path.write_text(NEEDS_CLAUDE)
    refused = cli("workflow", "run", str(path))
    assert refused.exit_code == 1, refused.output
    lines = refused.stderr.splitlines()
    assert lines[0] == "Error: 2 problems"
    assert lines[1].startswith(
        "  steps[1].runtime (step review): the claude runtime is not ready: no credentials"
    )
    assert lines[3].startswith("  steps[2].runtime (step price): the anthropic runtime is not")
    assert lines[2].startswith("    hint: ") and "ANTHROPIC_API_KEY" in lines[2]
    assert "Traceback" not in refused.output
    assert cli.json("workflow", "list") == []  # nothing stored
    assert cli.json("task", "list") == []

    as_json = cli.json("workflow", "run", str(path), expect_exit=1)
    assert as_json["code"] == "runtime_unavailable"
    assert [e["step"] for e in as_json["errors"]] == ["review", "price"]
    assert all("Settings -> Runtimes" in e["hint"] for e in as_json["errors"])


def test_a_stored_workflow_whose_one_step_is_not_ready_says_the_fix(
    cli: Cli, tmp_path: Path, no_login: None
) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(NEEDS_CLAUDE.replace(", runtime: anthropic", ""))
    workflow_id = cli.json("workflow", "add", str(path))["id"]  # adding needs no model
    refused = cli("workflow", "run", workflow_id)
    line = assert_one_line_error(refused, contains="not ready")
    assert line.startswith(
        "Error: steps[1].runtime (step review): the claude runtime is not ready: no credentials"
    )
    assert "hint: " in refused.stderr and "/login" in refused.stderr
    shown = cli.json("workflow", "show", workflow_id)
    assert (shown["status"], shown["run_count"]) == ("draft", 0)
    assert cli.json("task", "list") == []


def test_a_rerun_whose_edited_step_is_not_ready_is_refused_up_front(
    cli: Cli, tmp_path: Path, no_login: None
) -> None:
    """As ``workflow run`` refuses: the step, the runtime and the fix, exit 1, nothing started."""
    data = {"name": "two", "pattern": "sequence", "steps": [step("one", "1"), step("two", "2")]}
    done = cli.json("workflow", "run", str(write(tmp_path, data)))
    assert done["status"] == "completed"
    data["steps"][1] = {"id": "two", "name": "Two", "prompt": "p", "runtime": "claude"}
    assert cli("workflow", "edit", done["id"], str(write(tmp_path, data))).exit_code == 0
    refused = cli("workflow", "rerun", done["id"], "two")
    line = assert_one_line_error(refused, contains="not ready")
    assert line.startswith(
        "Error: steps[1].runtime (step two): the claude runtime is not ready: no credentials"
    )
    assert "hint: " in refused.stderr and "/login" in refused.stderr
    assert cli.json("workflow", "show", done["id"])["run_count"] == 1
