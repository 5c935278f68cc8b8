"""Run options: untrusted data becomes a frozen `RunOptions`, or one `ValidationError` naming the
field (with the ``options.`` prefix the CLI, the API and the forms show)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pydantic
import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.run_options import (
    RUNTIME_OPTION_FIELDS,
    ClaudeOptions,
    RunOptions,
    ScriptedOptions,
    field_path,
    from_flat,
    parse_run_options,
)
from stagent.store.row_values import stored_options


def refused(data: object, prefix: str = "options.") -> str:
    with pytest.raises(ValidationError) as caught:
        parse_run_options(data, prefix=prefix)
    assert caught.value.hint and "run options" in caught.value.hint
    assert caught.value.to_dict()["code"] == "invalid_input"
    return caught.value.message


def test_empty_data_gives_the_defaults() -> None:
    options = parse_run_options({})
    assert options == RunOptions()
    assert options.runtime == "scripted"
    assert options.limits.max_turns is None
    assert options.tool_policy is None
    assert options.stored() == {}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"limits": {"max_turns": 0}}, "options.limits.max_turns: "),
        ({"limits": {"max_turns": 10_001}}, "options.limits.max_turns: "),
        ({"limits": {"max_budget_usd": 0}}, "options.limits.max_budget_usd: "),
        ({"limits": {"max_budget_usd": "100001"}}, "options.limits.max_budget_usd: "),
        ({"limits": {"deadline_seconds": -1}}, "options.limits.deadline_seconds: "),
        ({"limits": {"deadline_seconds": 8 * 24 * 3600}}, "options.limits.deadline_seconds: "),
        ({"limits": {"max_turns": "many"}}, "options.limits.max_turns: "),
        ({"model": "m" * 201}, "options.model: "),
        ({"allowed_tools": "Read"}, "options.allowed_tools: "),
        ({"claude": {"permission_mode": "yolo"}, "runtime": "claude"}, "options.claude."),
        ({"claude": {"max_retries": 21}, "runtime": "claude"}, "options.claude.max_retries: "),
        ({"codex": {"sandbox": "open"}, "runtime": "codex"}, "options.codex.sandbox: "),
        ({"anthropic": {"max_tokens": 0}, "runtime": "anthropic"}, "options.anthropic.max_tokens"),
    ],
)
def test_an_out_of_range_option_names_its_field(data: dict[str, Any], message: str) -> None:
    assert refused(data).startswith(message)


def test_an_unknown_option_is_not_a_run_option() -> None:
    assert refused({"max_turn": 3}) == "options.max_turn: not a run option"
    assert refused({"limits": {"turns": 3}}) == "options.limits.turns: not a run option"


def test_several_errors_name_the_first_and_count_the_rest() -> None:
    message = refused({"limits": {"max_turns": 0, "deadline_seconds": 0}, "nope": 1})
    assert message.endswith("(and 2 more)")


def test_the_prefix_is_the_callers() -> None:
    assert refused({"nope": 1}, prefix="").startswith("nope: ")
    assert refused({"nope": 1}, prefix="steps[0].options.").startswith("steps[0].options.nope")


def test_a_bad_tool_policy_rule_names_the_list_and_the_rule() -> None:
    message = refused({"tool_policy": {"auto_approve": ["Write(./src/**)"]}})
    assert message.startswith("options.tool_policy.auto_approve: Rule `Write(./src/**)` is refused")
    assert "Edit(./src/**)" in message


def test_tool_policy_rules_are_parsed_as_allow_rules() -> None:
    """An input-parameter rule is honoured only in deny and ask, so the lists refuse it."""
    message = refused({"tool_policy": {"auto_deny": ["Agent(model:opus)"]}})
    assert "input-parameter rules are only honoured in deny and ask rules" in message
    ok = parse_run_options({"tool_policy": {"auto_approve": ["Read", "Bash(ls *)"]}})
    assert ok.tool_policy is not None and ok.tool_policy.auto_approve == ("Read", "Bash(ls *)")


def test_options_for_another_runtime_name_both_runtimes() -> None:
    message = refused({"runtime": "claude", "codex": {"sandbox": "read-only"}})
    assert message == ("options.codex: options for the codex runtime, but this task runs on claude")


def test_an_unlisted_runtime_takes_one_runtimes_options_only() -> None:
    parse_run_options({"runtime": "metered", "scripted": {"scenario": {"steps": []}}})
    message = refused(
        {"runtime": "metered", "scripted": {"scenario": {}}, "claude": {"gate": "all"}}
    )
    assert message == "options.claude: a run takes one runtime's own options"


def test_stored_keeps_only_what_was_set_and_never_the_runtime() -> None:
    options = parse_run_options(
        {
            "runtime": "claude",
            "model": "claude-sonnet-4-5",
            "limits": {"max_turns": 4, "max_budget_usd": "1.50"},
            "claude": {"gate": "all"},
        }
    )
    assert options.stored() == {
        "model": "claude-sonnet-4-5",
        "limits": {"max_turns": 4, "max_budget_usd": "1.50"},
        "claude": {"gate": "all"},
    }
    again = parse_run_options({**options.stored(), "runtime": "claude"})
    assert again == options
    assert again.limits.max_budget_usd == Decimal("1.50")


def test_runtime_config_is_the_runtimes_own_options_and_the_deadline() -> None:
    options = parse_run_options(
        {
            "runtime": "claude",
            "limits": {"deadline_seconds": 30, "max_turns": 2},
            "claude": {"gate": "claude", "tools": ["Read"]},
        }
    )
    assert options.runtime_config() == {
        "gate": "claude",
        "tools": ["Read"],
        "deadline_seconds": 30.0,
    }
    assert parse_run_options({"runtime": "codex"}).runtime_config() == {}


def test_a_runtime_registered_by_others_gets_the_options_given() -> None:
    options = parse_run_options({"runtime": "plugin", "scripted": {"scenario": {"steps": []}}})
    assert options.own_options() == ScriptedOptions(scenario={"steps": []})
    assert options.runtime_config() == {"scenario": {"steps": []}}
    assert parse_run_options({"runtime": "plugin"}).own_options() is None


def test_own_options_are_the_runtimes_own() -> None:
    options = parse_run_options({"runtime": "claude", "claude": {"max_retries": 2}})
    assert options.own_options() == ClaudeOptions(max_retries=2)


def test_with_changes_validates_again() -> None:
    options = parse_run_options({"model": "a"})
    assert options.with_changes(model="b").model == "b"
    assert options.model == "a"  # frozen: the original is unchanged
    with pytest.raises(ValidationError, match=r"^limits\.max_turns: "):
        options.with_changes(limits={"max_turns": -1})


def test_options_are_frozen() -> None:
    options = RunOptions()
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        options.model = "x"  # type: ignore[misc]


def test_every_runtime_with_options_has_a_field() -> None:
    for name in RUNTIME_OPTION_FIELDS:
        assert name in RunOptions.model_fields


@pytest.mark.parametrize(
    ("location", "path"),
    [(("limits", "max_turns"), "limits.max_turns"), ((), "options"), (("a", 0, "b"), "a.0.b")],
)
def test_field_paths_read_as_dotted_names(location: tuple[int | str, ...], path: str) -> None:
    assert field_path(location) == path


@pytest.mark.parametrize(
    ("runtime", "flat", "expected"),
    [
        (
            "claude",
            {"max_turns": 3, "gate": "all"},
            {"limits": {"max_turns": 3}, "claude": {"gate": "all"}},
        ),
        ("codex", {"provider": {"name": "x"}}, {"codex": {"provider": {"name": "x"}}}),
        (
            "anthropic",
            {"max_tokens": 5, "max_retries": 1},
            {"anthropic": {"max_tokens": 5, "max_retries": 1}},
        ),
        ("scripted", {"deadline_seconds": 2}, {"limits": {"deadline_seconds": 2.0}}),
        (
            "claude",
            {"limits": {"max_turns": 2}, "max_budget_usd": "1"},
            {"limits": {"max_turns": 2, "max_budget_usd": "1"}},
        ),
        (
            "claude",
            {"claude": {"gate": "all"}, "tools": []},
            {"claude": {"gate": "all", "tools": []}},
        ),
        ("plugin", {"scenario": {"steps": []}}, {"scripted": {"scenario": {"steps": []}}}),
        ("codex", {"_private": 1, "model": "gpt"}, {"model": "gpt"}),
    ],
)
def test_flat_mappings_land_in_the_typed_shape(
    runtime: str, flat: dict[str, Any], expected: dict[str, Any]
) -> None:
    options = from_flat(runtime, flat)
    assert options.runtime == runtime
    assert options.stored() == expected


def test_a_flat_option_of_another_runtime_is_not_a_run_option() -> None:
    with pytest.raises(ValidationError, match=r"^options\.sandbox: not a run option"):
        from_flat("claude", {"sandbox": "read-only"})


@pytest.mark.parametrize(
    ("base_url", "says"),
    [
        ("localhost:8080/v1", "'localhost:8080/v1' is not an http(s) URL"),
        ("api.openai.com/v1", "'api.openai.com/v1' is not an http(s) URL"),
        ("ftp://models.example/v1", "is not an http(s) URL"),
        ("http:///v1", "names no host"),
        ("http://models.example:99999/v1", "is not a valid URL"),
        ("https://models.example/v1 ", "contains spaces"),
        (7, "give the provider's API root as an http(s) URL"),
    ],
)
def test_a_provider_base_url_that_is_not_http_is_refused_naming_the_field_and_the_fix(
    base_url: object, says: str
) -> None:
    """Codex took any text as its provider's base URL and failed every model call of the run."""
    data = {"runtime": "codex", "codex": {"provider": {"base_url": base_url}}}
    with pytest.raises(ValidationError) as caught:
        parse_run_options(data, prefix="options.")
    assert caught.value.message.startswith("options.codex.provider.base_url: ")
    assert says in caught.value.message
    assert caught.value.hint == (
        "give the provider's API root, like https://api.openai.com/v1 or http://127.0.0.1:8080/v1"
    )


def test_an_http_base_url_is_taken_and_stored_options_read_as_they_were_saved() -> None:
    for url in ("http://127.0.0.1:8080/v1", "https://models.example/openai/v1"):
        options = parse_run_options({"runtime": "codex", "codex": {"provider": {"base_url": url}}})
        assert options.runtime_config()["provider"] == {"base_url": url}
    # Saved before the check: the task still reads (its next run is refused with the field).
    saved = stored_options("codex", {"codex": {"provider": {"base_url": "localhost:8080"}}})
    assert saved.codex is not None and saved.codex.provider == {"base_url": "localhost:8080"}
    with pytest.raises(ValidationError, match=r"^options\.codex\.provider\.base_url: "):
        parse_run_options({**saved.stored(), "runtime": "codex"}, prefix="options.")


@pytest.mark.parametrize(
    ("key", "value", "says", "hint"),
    [
        ("query_params", "api-version=1", "must map names to text, like", "as a mapping"),
        (
            "query_params",
            {"api-version": 1},
            "the value of 'api-version' must be text, not a number",
            "quote",
        ),
        ("http_headers", {"X Team": "ops"}, "'X Team' is not a valid header name", "letters"),
        ("http_headers", {"": "ops"}, "a header has an empty name", "name each header"),
        (
            "http_headers",
            {"Authorization": "Bearer sk-secret\nX-Evil: 1"},
            "the value of 'Authorization' contains a line break or control character",
            "not shown here",
        ),
    ],
)
def test_provider_params_and_headers_are_refused_at_save_never_echoing_a_value(
    key: str, value: object, says: str, hint: str
) -> None:
    """Codex took these and failed at start (or sent a broken request) on every run; now the
    save is refused, naming the field and the header, never its value (it may be a key)."""
    data = {"runtime": "codex", "codex": {"provider": {key: value}}}
    with pytest.raises(ValidationError) as caught:
        parse_run_options(data, prefix="options.")
    assert caught.value.message.startswith(f"options.codex.provider.{key}: {says}")
    assert hint in (caught.value.hint or "")
    assert "sk-secret" not in caught.value.message + (caught.value.hint or "")


def test_good_params_and_headers_are_taken_and_stored_ones_read_as_saved() -> None:
    provider = {"query_params": {"api-version": "2025-04-01"}, "http_headers": {"X-Team": "a b"}}
    options = parse_run_options({"runtime": "codex", "codex": {"provider": provider}})
    assert options.runtime_config()["provider"] == provider
    broken = {"http_headers": {"X Team": "ops"}}
    saved = stored_options("codex", {"codex": {"provider": broken}})
    assert saved.codex is not None and saved.codex.provider == broken
