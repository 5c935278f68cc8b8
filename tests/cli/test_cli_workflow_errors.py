"""``stagent workflow add|run FILE`` with a definition that does not validate: one line per problem
naming file, line, step and field, a hint that says how to fix that kind of problem, every
problem at once, no traceback; ``--json`` is the one error shape with an ``errors`` list."""

from __future__ import annotations

from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error

SEQUENCE = """\
name: review
pattern: sequence
steps:
  - id: review
    name: Review
    prompt: Review the diff
  - id: fix
    name: Fix
    prompt: Fix what the review found
"""

SWARM = """\
name: audit
pattern: swarm
swarm:
  worker_concurrency: 3
steps:
  - {id: mayor, name: Mayor, prompt: brief}
  - {id: w1, name: W1, prompt: work}
  - {id: w2, name: W2, prompt: work}
  - {id: refinery, name: Refinery, prompt: merge}
"""


def tweak(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


# (definition text, the Error line after "Error: <file>", the hint line after "hint: ")
KINDS = {
    "unknown field": (
        tweak(SEQUENCE, "    name: Fix\n", "    name: Fix\n    requires_aproval: true\n"),
        ":9: steps[1].requires_aproval (step fix): unknown field (did you mean requires_approval?)",
        "the fields here are: id, name, prompt, profile, runtime, model, depends_on, "
        "requires_approval, approval_timeout_seconds, retry, condition, timeout_seconds, options",
    ),
    "missing field": (
        tweak(SEQUENCE, "    prompt: Fix what the review found\n", ""),
        ":7: steps[1].prompt (step fix): field required",
        "every step needs prompt; add a line such as prompt: Review the diff and list problems",
    ),
    "wrong type": (
        tweak(SEQUENCE, "    name: Fix\n", "    name: Fix\n    retry: {attempts: twice}\n"),
        ":9: steps[1].retry.attempts (step fix): expected a whole number, got 'twice' (text)",
        "write a whole number, e.g. attempts: 3",
    ),
    "unknown pattern": (
        tweak(SEQUENCE, "pattern: sequence", "pattern: sequential"),
        ":2: pattern: 'sequential' is not a pattern (did you mean sequence?)",
        "pattern is one of: sequence, parallel, checkpoint, planner-executor, loop, swarm",
    ),
    "unknown runtime": (
        tweak(SEQUENCE, "    name: Fix\n", "    name: Fix\n    runtime: claud\n"),
        ":9: steps[1].runtime (step fix): unknown runtime 'claud'",
        "available runtimes: anthropic, claude, codex, scripted",
    ),
    "unknown depends_on": (
        tweak(SEQUENCE, "    name: Fix\n", "    name: Fix\n    depends_on: [reviw]\n"),
        ":9: steps[1].depends_on (step fix): names 'reviw', which is no step's id "
        "(did you mean review?)",
        "depends_on lists ids of other steps: review",
    ),
    "a cycle": (
        tweak(
            tweak(SEQUENCE, "    name: Fix\n", "    name: Fix\n    depends_on: [review]\n"),
            "    name: Review\n",
            "    name: Review\n    depends_on: [fix]\n",
        ),
        ":6: steps[0].depends_on (step review): depends_on makes a cycle: "
        "review -> fix -> review (each depends on the next)",
        "a step may depend only on steps that do not depend on it; remove one depends_on "
        "entry of that cycle",
    ),
    "duplicate id": (
        tweak(SEQUENCE, "  - id: fix", "  - id: review"),
        ":7: steps[1].id (step review): another step already has the id 'review' "
        "(steps[0].id, line 4)",
        "give every step its own id, e.g. id: review-2",
    ),
    "max_iterations": (
        "name: l\npattern: loop\nloop: {max_iterations: 500}\n"
        "steps:\n  - {id: it, name: It, prompt: go}\n",
        ":3: loop.max_iterations: 500 is out of range (1 to 100)",
        "allowed: 1 to 100, e.g. max_iterations: 5",
    ),
    "max_concurrency": (
        "name: p\npattern: parallel\nparallel:\n  max_concurrency: 0\nsteps:\n"
        "  - {id: a, name: A, prompt: go}\n  - {id: b, name: B, prompt: go}\n"
        "  - {id: j, name: J, prompt: merge, depends_on: [a, b]}\n",
        ":4: parallel.max_concurrency: 0 is out of range (1 to 5)",
        "allowed: 1 to 5, e.g. max_concurrency: 3",
    ),
    "worker_concurrency": (
        SWARM,
        ":4: swarm.worker_concurrency: 3 is more than the 2 workers",
        "allowed: 1 to 2 (the number of workers), e.g. worker_concurrency: 2",
    ),
    "swarm workers": (
        tweak(SWARM, "  - {id: w2, name: W2, prompt: work}\n", ""),
        ":6: steps: a swarm needs a mayor, 2 to 5 workers and a refinery; this one has 1 workers",
        "list the mayor first, then 2 to 5 workers, then the refinery last",
    ),
    "yaml syntax": (
        tweak(SEQUENCE, "    name: Fix\n", "    name: Fix: the bug\n"),
        ":8:14: mapping values are not allowed here",
        "a value that holds ': ' needs quotes (prompt: \"Fix: the bug\"), and keys of one "
        "mapping line up under each other",
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_problem_says_where_and_how_to_fix_it(
    cli: Cli, tmp_path: Path, kind: str
) -> None:
    text, where, hint = KINDS[kind]
    path = tmp_path / "wf.yaml"
    path.write_text(text)
    result = cli("workflow", "add", str(path))
    line = assert_one_line_error(result, contains=where)
    assert line == f"Error: {path}{where}"
    assert result.stderr.splitlines()[1] == f"hint: {hint}"
    assert cli.json("workflow", "list") == []


def test_every_problem_is_listed_at_once_with_its_own_hint(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    text = tweak(SEQUENCE, "pattern: sequence", "pattern: sequense")
    text = tweak(text, "    prompt: Fix what", "    promt: Fix what")
    path.write_text(tweak(text, "    name: Review\n", "    name: Review\n    timeout_seconds: 0\n"))
    for command in ("add", "run"):
        result = cli("workflow", command, str(path))
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert result.stderr.splitlines() == [
            "Error: 4 problems",
            f"  {path}:2: pattern: 'sequense' is not a pattern (did you mean sequence?)",
            "    hint: pattern is one of: sequence, parallel, checkpoint, planner-executor, "
            "loop, swarm",
            f"  {path}:6: steps[0].timeout_seconds (step review): 0 is out of range "
            "(more than 0 to 604800)",
            "    hint: allowed: more than 0 to 604800, e.g. timeout_seconds: 600",
            f"  {path}:8: steps[1].prompt (step fix): field required",
            "    hint: every step needs prompt; add a line such as prompt: Review the diff and "
            "list problems",
            f"  {path}:10: steps[1].promt (step fix): unknown field (did you mean prompt?)",
            "    hint: the fields here are: id, name, prompt, profile, runtime, model, "
            "depends_on, requires_approval, approval_timeout_seconds, retry, condition, "
            "timeout_seconds, options",
        ]
    assert cli.json("workflow", "list") == []


def test_json_is_the_one_error_shape_with_every_problem(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    text = SEQUENCE + "  - id: review\n    name: Again\n    prompt: again\n"
    path.write_text(tweak(text, "    name: Fix\n", "    name: Fix\n    depends_on: [nope]\n"))
    body = cli.json("workflow", "add", str(path), expect_exit=1)
    assert body["ok"] is False
    assert (body["status"], body["code"]) == (422, "invalid_input")
    assert body["error"].startswith("2 problems: ")
    assert body["hint"] is None
    assert body["errors"] == [
        {
            "field": "steps[1].depends_on",
            "message": "names 'nope', which is no step's id",
            "hint": "depends_on lists ids of other steps: review",
            "file": str(path),
            "line": 9,
            "column": 17,
            "step": "fix",
        },
        {
            "field": "steps[2].id",
            "message": "another step already has the id 'review' (steps[0].id, line 4)",
            "hint": "give every step its own id, e.g. id: review-3",
            "file": str(path),
            "line": 11,
            "column": 9,
            "step": "review",
        },
    ]


FAN = """\
name: fan
pattern: parallel
steps:
  - id: a
    name: A
    promt: go
  - id: b
    name: B
    prompt: go
    depends_on: [a, zz]
  - id: c
    name: C
    prompt: go
    runtime: claud
    approval_timeout_seconds: 60
"""


def test_shape_and_runtime_problems_come_with_the_field_problems(cli: Cli, tmp_path: Path) -> None:
    """A parallel workflow with a misspelt field, an unknown depends_on (so no synthesis step
    that joins every branch), an unknown runtime and an approval timeout without a gate: all
    six problems in one go, each at its own line with its own fix."""
    path = tmp_path / "fan.yaml"
    path.write_text(FAN)
    result = cli("workflow", "add", str(path))
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        "Error: 6 problems",
        f"  {path}:4: steps[0].prompt (step a): field required",
        "    hint: every step needs prompt; add a line such as prompt: Review the diff and "
        "list problems",
        f"  {path}:6: steps[0].promt (step a): unknown field (did you mean prompt?)",
        "    hint: the fields here are: id, name, prompt, profile, runtime, model, "
        "depends_on, requires_approval, approval_timeout_seconds, retry, condition, "
        "timeout_seconds, options",
        f"  {path}:10: steps[1].depends_on (step b): names 'zz', which is no step's id",
        "    hint: depends_on lists ids of other steps: a, c",
        f"  {path}:10: steps[1].depends_on (step b): the synthesis step must depend on every "
        "branch once",
        "    hint: set depends_on: [a, c]",
        f"  {path}:14: steps[2].runtime (step c): unknown runtime 'claud'",
        "    hint: available runtimes: anthropic, claude, codex, scripted",
        f"  {path}:15: steps[2].approval_timeout_seconds (step c): approval_timeout_seconds "
        "is set but requires_approval is not",
        "    hint: add requires_approval: true (a person approves the step before it starts), "
        "or remove approval_timeout_seconds",
    ]
    body = cli.json("workflow", "add", str(path), expect_exit=1)
    assert [(e["line"], e["field"], e["step"]) for e in body["errors"]] == [
        (4, "steps[0].prompt", "a"),
        (6, "steps[0].promt", "a"),
        (10, "steps[1].depends_on", "b"),
        (10, "steps[1].depends_on", "b"),
        (14, "steps[2].runtime", "c"),
        (15, "steps[2].approval_timeout_seconds", "c"),
    ]
    assert all(e["file"] == str(path) and e["column"] for e in body["errors"])


def test_a_cycle_shows_beside_a_field_problem(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "loopy.yaml"
    text = tweak(SEQUENCE, "    name: Fix\n", "    name: Fix\n    depends_on: [review]\n")
    text = tweak(text, "    name: Review\n", "    name: Review\n    depends_on: [fix]\n")
    path.write_text(
        tweak(text, "    prompt: Fix what", "    retry: {attempts: twice}\n    prompt: Fix what")
    )
    result = cli("workflow", "add", str(path))
    assert result.stderr.splitlines()[:3] == [
        "Error: 2 problems",
        f"  {path}:6: steps[0].depends_on (step review): depends_on makes a cycle: "
        "review -> fix -> review (each depends on the next)",
        "    hint: a step may depend only on steps that do not depend on it; remove one "
        "depends_on entry of that cycle",
    ]
    assert result.stderr.splitlines()[3] == (
        f"  {path}:11: steps[1].retry.attempts (step fix): expected a whole number, got "
        "'twice' (text)"
    )
