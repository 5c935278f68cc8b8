"""The router on sample tasks: the right profile, the tags that matched, and the fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagent.profiles.catalog import ProfileCatalog, ScopeDirs
from stagent.profiles.router import route


@pytest.fixture(scope="module")
def catalog() -> ProfileCatalog:
    return ProfileCatalog.load(ScopeDirs(user=Path("/nonexistent-user-scope")))


@pytest.mark.parametrize(
    ("title", "description", "expected"),
    [
        ("Review the pull request", "Look at the diff for the login change", "code-reviewer"),
        (
            "Find SQL injection",
            "Audit the search endpoint for vulnerabilities",
            "security-reviewer",
        ),
        ("Write unit tests for the parser", "Use pytest", "test-writer"),
        ("Nightly job crashes", "Investigate the traceback and fix the bug", "debugger"),
        ("Plan a trip to Lisbon", "Flights and a hotel for May", "travel-planner"),
        ("Translate the README", "into Spanish", "translator"),
        (
            "Summarize yesterday's meeting",
            "From the transcript, list the action items",
            "meeting-summarizer",
        ),
        ("Household budget", "Track my expenses and find savings", "budget-planner"),
        ("Release notes for 2.0", "Draft the changelog", "release-manager"),
        ("Slow checkout page", "Profile the latency and optimize it", "performance-engineer"),
        ("Postmortem", "Write up last night's outage incident", "incident-responder"),
    ],
)
def test_sample_tasks_route_to_their_specialist(
    catalog: ProfileCatalog, title: str, description: str, expected: str
) -> None:
    decision = route(catalog, title, description)
    assert decision.profile_id == expected, decision.reason
    assert not decision.fallback
    assert decision.score >= 2
    assert all(tag in decision.reason for tag in decision.matched)


def test_vague_tasks_fall_back_to_general_and_say_why(catalog: ProfileCatalog) -> None:
    decision = route(catalog, "Buy milk")
    assert decision.profile_id == "general"
    assert decision.fallback
    assert "shopping-assistant scored 1; below 2" in decision.reason
    nothing = route(catalog, "zzz qqq")
    assert nothing.profile_id == "general"
    assert nothing.reason.startswith("no profile's tags matched")


def test_short_tags_match_whole_words_only(catalog: ProfileCatalog) -> None:
    decision = route(catalog, "Improve the appearance", "and the approach")
    assert "pr" not in decision.matched
    assert decision.profile_id == "general"


def test_only_profiles_that_support_the_runtime_take_part(catalog: ProfileCatalog) -> None:
    text = ("Review the pull request", "Look at the diff")
    assert route(catalog, *text, runtime="claude").profile_id == "code-reviewer"
    on_anthropic = route(catalog, *text, runtime="anthropic")
    assert on_anthropic.profile_id != "code-reviewer"
    assert catalog.get(on_anthropic.profile_id).supports("anthropic")


@pytest.mark.parametrize(
    ("title", "expected", "matched"),
    [
        ("Optimize these SQL queries", "sql-expert", ("sql", "query")),
        (
            "Security vulnerabilities in the login",
            "security-reviewer",
            ("security", "vulnerability"),
        ),
        ("Summarize the meeting summaries", "meeting-summarizer", ("meeting", "summary")),
        ("Write user stories for checkout", "product-manager", ("user story",)),
        ("Rebuild the database INDEXES", "sql-expert", ("database", "index")),
    ],
)
def test_plurals_and_case_still_match_their_tags(
    catalog: ProfileCatalog, title: str, expected: str, matched: tuple[str, ...]
) -> None:
    decision = route(catalog, title)
    assert (decision.profile_id, decision.matched) == (expected, matched), decision.reason


def test_the_score_counts_a_phrase_twice_and_names_the_runners_up(catalog: ProfileCatalog) -> None:
    decision = route(catalog, "Code review of the pull request")
    assert decision.matched == ("review", "code review", "pull request")
    assert decision.score == 5
    assert decision.reason == "matched tags review, code review, pull request (score 5)"
    assert [c.profile_id for c in decision.runners_up] == ["shopping-assistant"]
    assert all(0 < c.score < decision.score for c in decision.runners_up)


def test_a_fallback_still_shows_the_near_misses(catalog: ProfileCatalog) -> None:
    decision = route(catalog, "Review")
    assert decision.fallback and decision.score == 0 and decision.matched == ()
    near = {c.profile_id: c.matched for c in decision.runners_up if c.score}
    assert near == {"code-reviewer": ("review",), "shopping-assistant": ("review",)}


def test_a_simulated_runtime_lets_every_profile_take_part(catalog: ProfileCatalog) -> None:
    text = ("Review the pull request", "Look at the diff")
    assert route(catalog, *text, runtime="scripted").profile_id == "code-reviewer"
