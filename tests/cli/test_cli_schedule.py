"""`stagent schedule`: add (with the phrase shown as cron), list, show, edit, pause, resume, fire,
rm, with --json carrying id, status, next_fire_at and firings; bad input is one line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from clitools import Cli, assert_one_line_error

from stagent.scheduler.firing import FiringDecider
from stagent.testing.workflows import step

QUICK = """\
steps:
  - text: "checked"
  - usage: {model: scripted-1, input_tokens: 100, output_tokens: 10, cost_usd: 0.25}
result: "ok"
"""


def test_add_shows_the_phrase_as_cron_and_the_next_five_fire_times(cli: Cli) -> None:
    result = cli(
        "schedule",
        "add",
        "standup",
        "--every",
        "weekday at 9am",
        "--prompt",
        "Summarize",
        "--tz",
        "Europe/Berlin",
    )
    assert result.exit_code == 0, result.output
    assert "every weekday at 9am → 0 9 * * 1-5" in result.stdout
    assert "At 09:00 AM, Monday through Friday (Europe/Berlin)" in result.stdout
    next_line = next(line for line in result.stdout.splitlines() if line.startswith("Next:"))
    assert next_line.count("09:00:00 CET") == 5


def test_json_carries_id_status_next_fire_at_and_firings(cli: Cli) -> None:
    added = cli.json(
        "schedule",
        "add",
        "pulse",
        "--every",
        "15m",
        "--prompt",
        "Check",
        "--max-firings",
        "3",
        "--overlap",
        "queue",
        "--missed",
        "all",
        "--tz",
        "Asia/Tokyo",
    )
    assert added["id"].startswith("sch_") and added["status"] == "active"
    assert added["next_fire_at"] and added["firings"] == []
    assert (added["overlap"], added["missed"], added["max_firings"]) == ("queue", "all", 3)
    assert added["when"] == {
        "kind": "interval",
        "cron": None,
        "every_seconds": 900,
        "at": None,
        "tz": "Asia/Tokyo",
        "source": "15m",
        "description": "Every 15 minutes",
    }
    listed = cli.json("schedule", "list")
    assert [s["id"] for s in listed] == [added["id"]]
    shown = cli.json("schedule", "show", "pulse")
    assert set(shown) >= {"id", "status", "next_fire_at", "firings", "upcoming"}
    assert len(shown["upcoming"]) == 3  # the limit caps the preview


def test_dry_run_saves_nothing(cli: Cli) -> None:
    preview = cli.json(
        "schedule", "add", "maybe", "--cron", "*/10 * * * *", "--prompt", "p", "--dry-run"
    )
    assert len(preview["upcoming"]) == 5
    assert cli.json("schedule", "list") == []


def test_fire_without_a_worker_runs_the_firing_here(cli: Cli, tmp_path: Path) -> None:
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(QUICK)
    cli.json(
        "schedule",
        "add",
        "digest",
        "--every",
        "1d",
        "--prompt",
        "Digest",
        "--scenario",
        str(scenario),
    )
    fired = cli("schedule", "fire", "digest")
    assert fired.exit_code == 0, fired.output
    assert "Fired digest: task tsk_" in fired.stdout and "(completed)" in fired.stdout
    shown = cli.json("schedule", "show", "digest")
    (firing,) = shown["firings"]
    assert firing["manual"] is True and firing["status"] == "fired"
    assert firing["task_status"] == "completed"
    # Its scenario reported $0.25, but a scripted run calls no model: simulated, never spend.
    assert (firing["cost_usd"], firing["simulated"]) == ("0.00", True)
    table = cli("schedule", "show", "digest")
    assert table.exit_code == 0 and "simulated" in table.stdout and "$0.25" not in table.stdout
    task = cli.json("task", "show", firing["task_id"])
    assert task["title"] == "digest — fired now" and task["description"] == "Digest"


def test_pause_resume_edit_and_rm(cli: Cli) -> None:
    cli.json("schedule", "add", "s", "--every", "1h", "--prompt", "p")
    paused = cli.json("schedule", "pause", "s")
    assert paused["status"] == "paused" and paused["next_fire_at"] is None
    assert_one_line_error(cli("schedule", "pause", "s"), contains="only an active schedule")
    resumed = cli.json("schedule", "resume", "s")
    assert resumed["status"] == "active" and resumed["next_fire_at"]
    edited = cli.json("schedule", "edit", "s", "--cron", "every monday at 7:30", "--name", "t")
    assert (edited["name"], edited["when"]["cron"]) == ("t", "30 7 * * 1")
    assert cli.json("schedule", "rm", "t")["deleted"] is True
    assert_one_line_error(cli("schedule", "show", "t"), contains="no schedule", exit_code=1)


def test_blueprint_targets_limits_and_expiry_from_the_cli(cli: Cli) -> None:
    added = cli.json(
        "schedule", "add", "meals", "--every", "1d", "--blueprint", "meal-planning",
        "--var", "goal=quick dinners", "--var", "days=3", "--max-firings", "2",
        "--expires-at", "2099-01-01T00:00",
    )  # fmt: skip
    assert added["target"] == {
        "kind": "blueprint", "prompt": None, "runtime": "scripted", "profile": None,
        "ref": "meal-planning", "variables": {"goal": "quick dinners", "days": "3"},
    }  # fmt: skip
    shown = cli("schedule", "show", "meals")
    assert "blueprint meal-planning (goal=quick dinners, days=3) on scripted" in shown.stdout
    cleared = cli.json("schedule", "edit", "meals", "--no-limit", "--no-expiry")
    assert (cleared["max_firings"], cleared["expires_at"]) == (None, None)
    assert len(cleared["upcoming"]) == 5
    fired = cli.json("schedule", "fire", "meals")
    (firing,) = fired["firings"]
    assert firing["status"] == "fired" and firing["outcome"] == "completed"
    assert firing["workflow_id"] and firing["workflow_run"] == 1 and firing["task_id"] is None
    history = cli("schedule", "show", "meals")
    assert firing["workflow_id"] in history.stdout and "run 1" in history.stdout
    assert_one_line_error(
        cli("schedule", "edit", "meals", "--no-limit", "--max-firings", "4"),
        contains="give a new value or clear it, not both",
    )


def test_bad_targets_and_bad_input_are_refused_in_one_line(cli: Cli) -> None:
    assert_one_line_error(
        cli("schedule", "add", "w", "--every", "1h", "--workflow", "wf_1"),
        contains="no workflow",
        exit_code=1,
    )
    assert_one_line_error(
        cli(
            "schedule", "add", "b", "--every", "1h", "--blueprint", "meal-planning", "--var", "k=v"
        ),
        contains="variable k: meal-planning has no such variable",
    )
    assert_one_line_error(
        cli("schedule", "add", "x", "--every", "fortnightly-ish", "--prompt", "p"),
        contains="neither a cron expression nor a phrase",
    )
    assert_one_line_error(
        cli("schedule", "add", "x", "--at", "2001-01-01T00:00", "--prompt", "p"),
        contains="in the past",
    )
    assert_one_line_error(
        cli("schedule", "add", "x", "--every", "1h", "--cron", "* * * * *", "--prompt", "p"),
        contains="exactly one of cron, every or at",
    )
    assert cli.json("schedule", "list") == []


def test_overlap_allow_is_refused_for_a_workflow_with_the_fix(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "digest.yaml"
    steps = [step("a", "ok")]
    path.write_text(yaml.safe_dump({"name": "digest", "pattern": "sequence", "steps": steps}))
    added = cli("workflow", "add", str(path))
    assert added.exit_code == 0, added.output
    add = ("schedule", "add", "w", "--every", "1h", "--workflow", "digest")
    line = assert_one_line_error(cli(*add, "--overlap", "allow"), contains="overlap: 'allow'")
    assert "a workflow has one run at a time" in line
    assert cli.json(*add, "--overlap", "queue")["overlap"] == "queue"


def test_fire_here_follows_the_task_even_when_queueing_it_lags_the_fired_mark(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The firing is marked fired (task created) a moment before its task is queued; under
    load that moment was long enough for `fire` to print ``(queued)`` or ``(planned)``."""
    original = FiringDecider._queue_if_planned  # pyright: ignore[reportPrivateUsage]

    def slow_queue(self: FiringDecider, firing_ref: str, task_id: str) -> None:
        time.sleep(1.0)  # a loaded machine between the fired mark and the queueing
        original(self, firing_ref, task_id)

    monkeypatch.setattr(FiringDecider, "_queue_if_planned", slow_queue)
    scenario = tmp_path / "quick.yaml"
    scenario.write_text(QUICK)
    cli.json(
        "schedule", "add", "digest", "--every", "1d", "--prompt", "D", "--scenario", str(scenario)
    )
    fired = cli("schedule", "fire", "digest")
    assert fired.exit_code == 0, fired.output
    assert "(completed)" in fired.stdout, fired.stdout


def test_a_firing_whose_task_cannot_start_is_an_error_not_a_run_here(
    cli: Cli, no_login: None
) -> None:
    """The runtime is not ready: ``fire`` said "Running task ... here", then "Fired" with the
    task still planned, and exited 0."""
    cli.json(
        "schedule", "add", "digest", "--every", "1d", "--prompt", "D", "--runtime", "anthropic"
    )
    fired = cli("schedule", "fire", "digest")
    assert fired.exit_code == 1, fired.output
    assert "Running task" not in fired.output and "Fired" not in fired.stdout
    assert (
        "Error: firing digest failed: not started: the anthropic runtime is not ready"
    ) in fired.stderr
    assert "(fix: " in fired.stderr
    assert "then fire again: stagent schedule fire digest" in fired.stderr
    (firing,) = cli.json("schedule", "show", "digest")["firings"]
    # Nothing was started: no task left planned behind it.
    assert (firing["status"], firing["task_id"]) == ("failed", None)
    assert cli.json("task", "list") == []


@pytest.fixture
def machine_in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local zone is UTC, whatever the machine's (and a wide terminal: a table's
    row on one line)."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_list_says_next_fire_times_in_each_schedules_own_zone(
    cli: Cli, machine_in_utc: None
) -> None:
    """As ``show`` does: a Tokyo 9am schedule listed as 00:00 UTC read as the wrong hour."""
    for name, tz in (("tokyo", "Asia/Tokyo"), ("berlin", "Europe/Berlin")):
        added = cli("schedule", "add", name, "--every", "day at 9am", "--prompt", "p", "--tz", tz)
        assert added.exit_code == 0, added.output
    listed = cli("schedule", "list").stdout
    rows = {line.split()[0]: line for line in listed.splitlines()[1:] if line.strip()}
    assert "09:00:00 JST" in rows["tokyo"] and "UTC" not in rows["tokyo"]
    assert "09:00:00 CET" in rows["berlin"] and "UTC" not in rows["berlin"]
    shown = cli("schedule", "show", "tokyo").stdout
    assert "Next: " in shown and "09:00:00 JST" in shown
    paused = cli("schedule", "pause", "berlin")
    assert "Schedule berlin is paused" in paused.stdout, paused.output
    resumed = cli("schedule", "resume", "berlin").stdout
    assert "Next fire: " in resumed and "09:00:00 CET" in resumed
