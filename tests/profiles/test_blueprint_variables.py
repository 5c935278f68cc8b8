"""Variable values as a person types them (CLI ``--var``, form fields, API JSON): coerced to
their declared type, checked, defaulted, and fed to conditions and templates."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ValidationError
from stagent.profiles.blueprints import Blueprint, parse_blueprint
from stagent.profiles.instantiate import instantiate

TEXT = """id: probe
name: Probe
description: Variables of every type.
pattern: sequence
variables:
  - {id: topic, type: text, label: Topic, required: true}
  - {id: depth, type: number, min: 1, max: 5, default: 2}
  - {id: ratio, type: number}
  - {id: tone, type: select, default: plain, options: [{value: plain}, {value: formal}]}
  - {id: cite, type: boolean, default: true}
  - {id: notes, type: textarea}
steps:
  - id: gather
    name: Gather {{topic}}
    profile: researcher
    prompt: |
      Research {{topic}} to depth {{depth}} in a {{tone}} tone.
      {{#if cite}}Cite every source.{{else}}No citations needed.{{/if}}
      {{#if notes}}Notes: {{notes}}{{/if}}
  - id: ratio-check
    name: Ratio
    profile: researcher
    prompt: Check the ratio {{ratio}}.
    condition: "{{ratio}}"
  - id: write
    name: Write
    profile: document-writer
    prompt: Write it up.
    dependsOn: [gather, ratio-check]
"""


@pytest.fixture(scope="module")
def probe() -> Blueprint:
    return parse_blueprint(TEXT, "probe.yaml")


def test_defaults_fill_what_was_not_given(probe: Blueprint) -> None:
    instance = instantiate(probe, {"topic": "tea"})
    assert instance.values == {
        "topic": "tea",
        "depth": 2,
        "ratio": None,
        "tone": "plain",
        "cite": True,
        "notes": None,
    }
    gather = instance.definition.steps[0]
    assert gather.name == "Gather tea"
    assert gather.prompt == "Research tea to depth 2 in a plain tone.\nCite every source."
    assert instance.skipped == ("ratio-check",)
    assert instance.definition.steps[-1].depends_on == ("gather",)


def test_blank_text_counts_as_not_given(probe: Blueprint) -> None:
    with pytest.raises(ValidationError, match="variable topic: Topic is required"):
        instantiate(probe, {"topic": "   "})
    assert instantiate(probe, {"topic": "t", "depth": ""}).values["depth"] == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3", 3), ("1", 1), ("5", 5), ("2.5", 2.5), (4, 4), ("4.0", 4)],
)
def test_numbers_within_bounds_are_accepted_as_numbers(
    probe: Blueprint, raw: object, expected: float
) -> None:
    instance = instantiate(probe, {"topic": "t", "depth": raw})
    assert instance.values["depth"] == expected
    assert f"to depth {expected} in" in instance.definition.steps[0].prompt


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("depth", "0", "variable depth: 0 is below the minimum 1"),
        ("depth", "5.5", "variable depth: 5.5 is above the maximum 5"),
        ("depth", "three", "variable depth: 'three' is not a number"),
        ("ratio", "nan", "variable ratio: 'nan' is not a number"),
        ("ratio", "inf", "variable ratio: 'inf' is not a number"),
        ("ratio", True, "variable ratio: True is not a number"),
        ("tone", "Formal", "variable tone: 'Formal' is not one of plain, formal"),
        ("cite", "maybe", "variable cite: 'maybe' is not true or false"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    probe: Blueprint, variable: str, raw: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        instantiate(probe, {"topic": "t", variable: raw})


@pytest.mark.parametrize(
    ("raw", "cited"),
    [
        ("yes", True), ("on", True), ("1", True), ("TRUE", True), (True, True),
        ("no", False), ("off", False), ("0", False), ("False", False), (False, False),
    ],
)  # fmt: skip
def test_boolean_words_pick_the_if_or_the_else_branch(
    probe: Blueprint, raw: object, cited: bool
) -> None:
    instance = instantiate(probe, {"topic": "t", "cite": raw})
    assert instance.values["cite"] is cited
    prompt = instance.definition.steps[0].prompt
    assert ("Cite every source." in prompt) is cited
    assert ("No citations needed." in prompt) is not cited


@pytest.mark.parametrize(("ratio", "runs"), [("0", False), ("0.5", True), ("-1", True)])
def test_a_number_condition_skips_its_step_only_when_zero(
    probe: Blueprint, ratio: str, runs: bool
) -> None:
    instance = instantiate(probe, {"topic": "t", "ratio": ratio})
    ids = [s.id for s in instance.definition.steps]
    assert ("ratio-check" in ids) is runs
    if runs:
        assert instance.definition.steps[1].prompt == f"Check the ratio {ratio}."
        assert instance.definition.steps[-1].depends_on == ("gather", "ratio-check")


def test_a_textarea_value_keeps_its_lines(probe: Blueprint) -> None:
    notes = "first line\nsecond line"
    prompt = instantiate(probe, {"topic": "t", "notes": notes}).definition.steps[0].prompt
    assert prompt.endswith("Notes: first line\nsecond line")


def test_steps_named_alike_get_distinct_ids() -> None:
    text = """id: twins
name: Twins
description: d
pattern: sequence
steps:
  - {name: Draft it!, profile: researcher, prompt: a}
  - {name: Draft it!, profile: researcher, prompt: b}
  - {name: "???", profile: researcher, prompt: c}
"""
    steps = instantiate(parse_blueprint(text, "twins.yaml"), {}).definition.steps
    assert [s.id for s in steps] == ["draft-it", "draft-it-2", "step"]


def test_a_blueprint_whose_every_step_is_skipped_says_so() -> None:
    text = """id: gated
name: Gated
description: d
pattern: sequence
variables: [{id: go, type: boolean}]
steps:
  - {name: Only, profile: researcher, prompt: a, condition: "{{go}}"}
"""
    blueprint = parse_blueprint(text, "gated.yaml")
    with pytest.raises(ValidationError, match="gated: every step was skipped by its condition"):
        instantiate(blueprint, {"go": "no"})
    assert len(instantiate(blueprint, {"go": "yes"}).definition.steps) == 1


@pytest.mark.parametrize(
    ("variable", "located"),
    [
        (
            "{id: n, type: number, min: 5, max: 1}",
            "v.yaml:6: variables[0]: min is greater than max",
        ),
        ("{id: n, type: text, min: 1}", "v.yaml:6: variables[0]: min/max: only a number variable"),
        (
            "{id: n, type: text, options: [{value: a}]}",
            "v.yaml:6: variables[0]",
        ),
    ],
)
def test_a_variable_declared_wrongly_is_refused_at_its_line(variable: str, located: str) -> None:
    text = f"""id: v
name: V
description: d
pattern: sequence
variables:
  - {variable}
steps:
  - {{name: A, profile: researcher, prompt: "{{{{n}}}}"}}
"""
    with pytest.raises(ValidationError) as info:
        parse_blueprint(text, "v.yaml")
    assert located in info.value.message, info.value.message
