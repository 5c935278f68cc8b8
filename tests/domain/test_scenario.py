"""Scenario files: valid ones load; malformed ones name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagent.domain.errors import ScenarioError
from stagent.runtimes.scenario import (
    DEFAULT_SCENARIO,
    TextStep,
    ToolStep,
    UsageStep,
    load_scenario_file,
    parse_scenario,
)


def test_yaml_scenario_loads_every_step_kind(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: demo\n"
        "steps:\n"
        "  - text: hi\n"
        "  - delay: 0.1\n"
        "  - tool: Write\n"
        "    input: {file_path: a.md}\n"
        "  - usage: {model: m, input_tokens: 3, cache_read_tokens: 7}\n"
        "  - fail: boom\n"
        "result: done\n"
    )
    scenario = load_scenario_file(path)
    assert scenario.name == "demo"
    assert isinstance(scenario.steps[0], TextStep)
    assert isinstance(scenario.steps[2], ToolStep)
    assert scenario.steps[2].input == {"file_path": "a.md"}
    usage = scenario.steps[3]
    assert isinstance(usage, UsageStep)
    assert usage.usage.cache_read_tokens == 7
    assert scenario.result == "done"


def test_json_scenario_loads(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"steps": [{"text": "a"}, {"text": "b"}]}')
    assert len(load_scenario_file(path).steps) == 2


def test_unknown_step_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - text: ok\n  - txet: typo\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path)
    message = caught.value.message
    assert message.startswith(f"{path}:3:")
    assert "steps[1]" in message
    assert "txet" in message


def test_wrong_type_names_the_nested_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - usage:\n      input_tokens: lots\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path)
    assert f"{path}:3:" in caught.value.message
    assert "steps[0].usage.input_tokens" in caught.value.message


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"steps\[0\]\.delay"):
        parse_scenario({"steps": [{"delay": -1}]})


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("steps:\n  - text: [unclosed\n")
    with pytest.raises(ScenarioError, match=rf"^{path}:\d+: "):
        load_scenario_file(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        load_scenario_file(tmp_path / "nope.yaml")


def test_default_scenario_is_valid() -> None:
    assert parse_scenario(DEFAULT_SCENARIO).steps


@pytest.mark.parametrize("name", ["hello", "failing", "slow"])
def test_shipped_example_scenarios_are_valid(name: str) -> None:
    from stagent.testing import scenario_path

    assert load_scenario_file(scenario_path(name)).steps
