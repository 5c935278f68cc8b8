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
        ("{{ #if x }}X{{ /if }}", {"x": 1}, "X"),
        ("{{my-var}} {{my_var}}", {"my-var": "h", "my_var": "u"}, "h u"),
        ("n={{n}} f={{f}}", {"n": 0, "f": 2.5}, "n=0 f=2.5"),
        ("{{{x}}}", {"x": "v"}, "{v}"),
        ("{{#if x}}A{{/if}}-{{#if x}}B{{/if}}", {"x": "1"}, "A-B"),
        ("  lead\n\n\n\ntrail  ", {}, "lead\n\ntrail"),
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
        ("{{#if x}}{{#if x}}a{{/if}}", "not closed"),
        ("{{#if x}}a{{/if}}{{/if}}", "without a matching"),
        ("{{#if x}}a{{else}}b{{else}}c{{/if}}", "a second {{else}}"),
        ("{{#if x}}{{#if x}}a{{else}}b{{/if}}{{else}}c{{else}}d{{/if}}", "a second {{else}}"),
    ],
)
def test_malformed_templates_are_refused(template: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        check_template(template, {"x"})


def test_a_well_formed_template_passes() -> None:
    check_template("{{x}} {{#if x}}a{{else}}b{{/if}}", {"x"})


NESTED = "{{#if a}}{{#if b}}x{{else}}y{{/if}}{{else}}z{{/if}}"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(True, True, "x"), (True, False, "y"), (False, True, "z"), (False, False, "z")],
)
def test_nested_blocks_each_take_their_own_else(a: bool, b: bool, expected: str) -> None:
    check_template(NESTED, {"a", "b"})
    assert render(NESTED, {"a": a, "b": b}) == expected


def test_a_value_is_inserted_as_text_never_rendered_again() -> None:
    values = {"x": "{{y}} {{#if y}}boom{{/if}}", "y": "secret"}
    assert render("Task: {{x}}", values) == "Task: {{y}} {{#if y}}boom{{/if}}"
