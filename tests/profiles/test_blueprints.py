"""Blueprints: every built-in loads and instantiates; variables, conditions, located errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.workflows import PATTERNS
from stagent.profiles.blueprints import BUILTIN_BLUEPRINTS, BlueprintCatalog, parse_blueprint
from stagent.profiles.catalog import ProfileCatalog, ScopeDirs
from stagent.profiles.instantiate import instantiate

BUILTIN = sorted(p.stem for p in BUILTIN_BLUEPRINTS.glob("*.yaml"))


@pytest.fixture(scope="module")
def profiles() -> ProfileCatalog:
    return ProfileCatalog.load(ScopeDirs(user=Path("/nonexistent-user-scope")))


@pytest.fixture(scope="module")
def catalog() -> BlueprintCatalog:
    return BlueprintCatalog.load(Path("/nonexistent-user-blueprints"))


def test_at_least_12_builtins_that_together_use_all_six_patterns(
    catalog: BlueprintCatalog,
) -> None:
    assert len(catalog.all()) >= 12
    assert {b.pattern for b in catalog.all()} == set(PATTERNS)
    assert {b.domain for b in catalog.all()} == {"work", "personal"}


def _minimal_values(catalog: BlueprintCatalog, blueprint_id: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for v in catalog.get(blueprint_id).variables:
        if v.required and v.default is None:
            values[v.id] = v.options[0].value if v.options else f"the {v.id}"
    return values


@pytest.mark.parametrize("blueprint_id", BUILTIN)
def test_each_builtin_instantiates_with_required_values_only_and_with_everything(
    blueprint_id: str, catalog: BlueprintCatalog, profiles: ProfileCatalog, tmp_path: Path
) -> None:
    blueprint = catalog.get(blueprint_id)
    for step in blueprint.steps:
        profiles.get(step.profile)  # every step names a real profile
    minimal = instantiate(blueprint, _minimal_values(catalog, blueprint_id), profiles)
    assert minimal.definition.pattern == blueprint.pattern
    assert all("{{" not in s.prompt for s in minimal.definition.steps)

    full: dict[str, object] = {}
    data_file = tmp_path / "data.csv"
    data_file.write_text("a,b\n1,2\n")
    for v in blueprint.variables:
        full[v.id] = {
            "boolean": "true",
            "number": str(v.min if v.min is not None else 3).removesuffix(".0"),
            "select": v.options[-1].value if v.options else "",
            "file": str(data_file),
        }.get(v.type, f"value of {v.id}")
    every = instantiate(blueprint, full, profiles)
    assert every.skipped == ()
    assert len(every.definition.steps) == len(blueprint.steps)
    assert every.definition.blueprint == {
        "id": blueprint.id,
        "version": blueprint.version,
        "variables": every.values,
    }


def test_conditions_skip_steps_and_joins_stop_waiting_for_them(
    catalog: BlueprintCatalog, profiles: ProfileCatalog
) -> None:
    deep = catalog.get("research-deep-dive")
    without = instantiate(deep, {"topic": "WASM"}, profiles)
    assert without.skipped == ("data",)
    synthesis = without.definition.steps[-1]
    assert synthesis.depends_on == ("background", "current-state", "critiques")

    with_data = instantiate(deep, {"topic": "WASM", "include_data": "yes"}, profiles)
    assert "data" in with_data.definition.steps[-1].depends_on
    assert with_data.definition.parallel is not None
    assert with_data.definition.parallel.on_branch_failure == "synthesize"


def test_prompts_are_rendered_with_values_blocks_and_expected_output(
    catalog: BlueprintCatalog, profiles: ProfileCatalog
) -> None:
    review = catalog.get("code-review-pipeline")
    plain = instantiate(review, {"target": "src/pay"}, profiles).definition
    assert plain.name == "Code review pipeline: src/pay"
    assert "Context from the author" not in plain.steps[0].prompt
    assert "with a focus on all" in plain.steps[1].prompt
    assert plain.steps[-1].prompt.endswith(
        "Expected output: a one-page review summary with a verdict"
    )
    assert [s.requires_approval for s in plain.steps] == [False, True, False, True]

    told = instantiate(
        review, {"target": "src/pay", "context": "new refunds", "include_tests": "no"}, profiles
    )
    assert "Context from the author: new refunds" in told.definition.steps[0].prompt
    assert told.skipped == ("test-gaps",)


def test_a_loop_takes_its_iteration_limit_from_a_variable(
    catalog: BlueprintCatalog, profiles: ProfileCatalog
) -> None:
    loop = catalog.get("refactor-until-green")
    instance = instantiate(
        loop, {"target": "a.py", "goal": "split", "max_iterations": "7"}, profiles
    )
    assert instance.definition.loop is not None
    assert instance.definition.loop.max_iterations == 7
    assert instance.definition.loop.completion_signal == "REFACTOR_DONE"
    with pytest.raises(
        ValidationError, match="variable max_iterations: 50 is above the maximum 20"
    ):
        instantiate(loop, {"target": "a.py", "goal": "split", "max_iterations": "50"}, profiles)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "variable target: What to review is required"),
        ({"target": "x", "focus": "speed"}, "variable focus: 'speed' is not one of all, security"),
        (
            {"target": "x", "include_tests": "maybe"},
            "variable include_tests: 'maybe' is not true or false",
        ),
        (
            {"target": "x", "colour": "red"},
            "variable colour: code-review-pipeline has no such variable",
        ),
    ],
)
def test_variables_are_validated(
    catalog: BlueprintCatalog, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        instantiate(catalog.get("code-review-pipeline"), values)


def test_number_and_file_variables(catalog: BlueprintCatalog, tmp_path: Path) -> None:
    meals = catalog.get("meal-planning")
    with pytest.raises(ValidationError, match="variable days: 'lots' is not a number"):
        instantiate(meals, {"goal": "g", "days": "lots"})
    report = catalog.get("research-report")
    with pytest.raises(ValidationError, match="variable dataset: no such file"):
        instantiate(report, {"topic": "t", "dataset": str(tmp_path / "missing.csv")})


def test_a_step_naming_an_unknown_profile_is_refused_when_instantiated(
    profiles: ProfileCatalog,
) -> None:
    text = BLUEPRINT.replace("profileId: researcher", "profileId: nobody")
    with pytest.raises(NotFoundError, match="no profile 'nobody'"):
        instantiate(parse_blueprint(text, "b.yaml"), {"topic": "x"}, profiles)


BLUEPRINT = """id: mine
name: Mine
description: A test blueprint.
pattern: sequence
variables:
  - {id: topic, type: text, required: true}
steps:
  - name: Gather
    profileId: researcher
    promptTemplate: Research {{topic}}.
    requiresApproval: true
"""


def test_the_original_camel_case_keys_load() -> None:
    blueprint = parse_blueprint(BLUEPRINT, "mine.yaml")
    assert blueprint.steps[0].profile == "researcher"
    assert blueprint.steps[0].requires_approval is True
    definition = instantiate(blueprint, {"topic": "tea"}).definition
    assert definition.steps[0].id == "gather"
    assert definition.steps[0].prompt == "Research tea."


@pytest.mark.parametrize(
    ("old", "new", "located"),
    [
        ("pattern: sequence", "pattern: pipeline", "b.yaml:4: pattern"),
        (
            "Research {{topic}}.",
            "Research {{topik}}.",
            "b.yaml:10: steps[0].promptTemplate (step Gather): {{topik}} is not a variable",
        ),
        (
            "Research {{topic}}.",
            "Research {{#if topic}}x",
            "b.yaml:10: steps[0].promptTemplate (step Gather): an {{#if",
        ),
        (
            "Research {{topic}}.",
            "Research {{#if topic}}a{{else}}b{{else}}c{{/if}}.",
            "b.yaml:10: steps[0].promptTemplate (step Gather): an {{#if ...}} block has a second "
            "{{else}}",
        ),
        ("type: text", "type: colour", "b.yaml:6: variables[0].type"),
        ("type: text", "type: select", "b.yaml:6: variables[0]: a select variable needs options"),
        (
            "    requiresApproval: true\n",
            "    requiresApproval: true\n    colour: red\n",
            "b.yaml:12: steps[0].colour (step Gather): unknown field",
        ),
        ("name: Mine\n", "", "b.yaml:1: name: field required"),
    ],
)
def test_malformed_blueprints_give_located_errors(old: str, new: str, located: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_blueprint(BLUEPRINT.replace(old, new), "b.yaml")
    assert located in info.value.message, info.value.message


def test_a_resolved_workflow_that_breaks_its_pattern_is_refused() -> None:
    text = """id: par
name: Par
description: d
pattern: parallel
variables: [{id: two, type: boolean}]
steps:
  - {id: a, name: A, profile: researcher, prompt: a}
  - {id: b, name: B, profile: researcher, prompt: b, condition: "{{two}}"}
  - {id: s, name: S, profile: document-writer, prompt: s, dependsOn: [a, b]}
"""
    blueprint = parse_blueprint(text, "par.yaml")
    assert len(instantiate(blueprint, {"two": "true"}).definition.steps) == 3
    with pytest.raises(ValidationError, match="needs 2 to 5 branches") as caught:
        instantiate(blueprint, {"two": "false"})
    assert caught.value.hint is not None and "conditions" in caught.value.hint
    (problem,) = caught.value.problems
    assert (problem.file, problem.field) == ("par", "steps")
    assert problem.hint is not None and problem.hint.startswith("a parallel workflow is 2 to 5")


def test_a_user_blueprint_overrides_a_builtin_and_a_broken_one_is_a_problem(
    tmp_path: Path,
) -> None:
    (tmp_path / "meal-planning.yaml").write_text(BLUEPRINT.replace("id: mine", "id: meal-planning"))
    (tmp_path / "broken.yaml").write_text(BLUEPRINT.replace("id: mine", "id: broken") + "oops: 1\n")
    catalog = BlueprintCatalog.load(tmp_path)
    assert catalog.get("meal-planning").name == "Mine"
    assert catalog.scope_of("meal-planning") == "user"
    with pytest.raises(ValidationError, match="broken.yaml:12: oops: unknown field"):
        catalog.get("broken")
