"""`{{var}}` substitution, `{{#if}}` blocks (nested, with else) and template checks."""

from __future__ import annotations

import pytest

from stagent.profiles.templating import TemplateError, check_template, render


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("Review {{target}}.", {"target": "src/"}, "Review src/."),
        ("Review {{ target }}.", {"target": "src/"}, "Review src/."),
        ("A{{#if x}} and B{{/if}}.", {"x": "yes"}, "A and B."),
        ("A{{#if x}} and B{{/if}}.", {"x": ""}, "A."),
        ("A{{#if x}} and B{{/if}}.", {"x": False}, "A."),
        ("A{{#if x}} and B{{/if}}.", {"x": None}, "A."),
        ("A{{#if x}} and B{{/if}}.", {"x": 0}, "A and B."),
        ("{{#if x}}X{{#if y}}Y{{/if}}{{/if}}", {"x": True, "y": False}, "X"),
        ("{{#if x}}X{{#if y}}Y{{/if}}{{/if}}", {"x": True, "y": True}, "XY"),
        ("{{#if x}}X{{#if y}}Y{{/if}}{{/if}}!", {"x": False, "y": True}, "!"),
        ("{{#if x}}yes{{else}}no{{/if}}", {"x": False}, "no"),
        ("{{#if x}}yes {{x}}{{else}}no{{/if}}", {"x": "it"}, "yes it"),
        ("Flag: {{b}}, n={{n}}", {"b": True, "n": 3}, "Flag: true, n=3"),
        ("one\n\n\n\n\ntwo", {}, "one\n\ntwo"),
        ("{{missing}}end", {}, "end"),
    ],
)
def test_render(template: str, values: dict[str, object], expected: str) -> None:
    assert render(template, values) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{#if x}}open", "not closed"),
        ("close{{/if}}", "without a matching"),
        ("{{else}}", "outside"),
        ("{{typo}}", "{{typo}} is not a variable of this blueprint (it has: x)"),
        ("{{#if nope}}a{{/if}}", "{{nope}} is not a variable"),
    ],
)
def test_malformed_templates_are_refused(template: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        check_template(template, {"x"})


def test_a_well_formed_template_passes() -> None:
    check_template("{{x}} {{#if x}}a{{else}}b{{/if}}", {"x"})
