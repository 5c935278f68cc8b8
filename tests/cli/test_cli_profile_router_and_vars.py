"""`stagent profile route` in human mode, user profiles taking part in routing, and every kind of
bad `--var` value refused in one line before anything is stored."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error

sys.path.insert(0, str(Path(__file__).parents[1] / "profiles"))
from profile_files import SPEC, write_profile


def test_route_prints_the_pick_its_tags_and_score(cli: Cli) -> None:
    picked = cli("profile", "route", "Code review of the pull request")
    assert picked.exit_code == 0
    assert picked.stdout.strip() == (
        "code-reviewer: matched tags review, code review, pull request (score 5)"
    )
    fallback = cli("profile", "route", "Buy milk")
    assert fallback.stdout.strip() == (
        "general: best match shopping-assistant scored 1; below 2, so the general profile takes it"
    )
    decision = cli.json("profile", "route", "Buy milk")
    assert decision["fallback"] is True and decision["matched"] == []


def test_a_user_profile_overrides_a_builtin_for_the_router_too(cli: Cli) -> None:
    before = cli.json("profile", "route", "Translate the README into Spanish")
    assert before["profile_id"] == "translator"
    # The person's own translator only knows about poems: a README is no longer its job.
    spec = SPEC.replace("tags: [review, code]", "tags: [poem translation]").replace(
        "name: Test Reviewer", "name: Poem Translator"
    )
    write_profile(cli.home / "profiles", "translator", spec=spec)
    assert cli.json("profile", "show", "translator")["name"] == "Poem Translator"
    readme = cli.json("profile", "route", "Translate the README into Spanish")
    assert readme["profile_id"] != "translator"
    poem = cli.json("profile", "route", "Poem translation", "--description", "into Spanish")
    assert (poem["profile_id"], poem["matched"], poem["score"]) == (
        "translator",
        ["poem translation"],
        2,
    )


def test_a_new_user_profile_wins_tasks_that_match_its_tags(cli: Cli) -> None:
    spec = SPEC.replace("tags: [review, code]", "tags: [terraform, infrastructure plan]")
    write_profile(cli.home / "profiles", "terraformer", spec=spec)
    decision = cli.json(
        "profile", "route", "Check the Terraform", "--description", "and the infrastructure plan"
    )
    assert decision["profile_id"] == "terraformer"
    assert decision["matched"] == ["terraform", "infrastructure plan"]
    assert decision["score"] == 3


@pytest.mark.parametrize(
    ("blueprint", "variables", "message"),
    [
        ("meal-planning", ["goal=x", "days=0"], "variable days: 0 is below the minimum 1"),
        ("meal-planning", ["goal=x", "days=15"], "variable days: 15 is above the maximum 14"),
        ("meal-planning", ["goal=x", "days=a week"], "variable days: 'a week' is not a number"),
        ("meal-planning", ["goal=x", "days=nan"], "variable days: 'nan' is not a number"),
        ("meal-planning", ["days=3"], "variable goal: Goal is required"),
        ("release-notes", ["version=2", "announce=sure"], "'sure' is not true or false"),
        ("research-report", ["topic=t", "dataset=/no/such.csv"], "no such file /no/such.csv"),
        ("meal-planning", ["goal=x", "Days=3"], "variable Days: meal-planning has no such"),
    ],
)
def test_bad_values_are_refused_in_one_line_and_nothing_is_stored(
    cli: Cli, blueprint: str, variables: list[str], message: str
) -> None:
    args = [part for v in variables for part in ("--var", v)]
    assert_one_line_error(cli("blueprint", "run", blueprint, *args), contains=message)
    assert_one_line_error(cli("blueprint", "run", blueprint, "--dry-run", *args), contains=message)
    assert cli.json("workflow", "list") == []


def test_values_reach_the_resolved_prompts_and_the_loop_settings(cli: Cli) -> None:
    loop = cli.json(
        "blueprint", "run", "refactor-until-green", "--dry-run",
        "--var", "target=app.py", "--var", "goal=split it", "--var", "max_iterations=3",
    )["definition"]  # fmt: skip
    assert loop["loop"]["max_iterations"] == 3
    assert "app.py" in loop["steps"][0]["prompt"]
    assert loop["blueprint"]["variables"]["max_iterations"] == 3
    default = cli.json(
        "blueprint", "run", "refactor-until-green", "--dry-run",
        "--var", "target=app.py", "--var", "goal=split it",
    )["definition"]  # fmt: skip
    assert default["loop"]["max_iterations"] == 5
