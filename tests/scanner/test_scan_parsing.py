"""The parsers: front matter read without the YAML parser gives exactly what PyYAML gives;
errors carry the file line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from stagent.scanner import Locations, Scanner
from stagent.scanner.parse import front_matter, parse_json, parse_toml, simple_mapping
from stagent.testing import scan_trees

SAMPLES = [
    "name: pdf-tools\ndescription: Extract text, fill forms.\n",
    "name: x\ndescription: first line\n  continued here\n  and here\n",
    'paths:\n  - "src/api/**/*.ts"\n  - lib/**\n',
    "paths:\n- src/**\n- lib/**\n",
    "name: \"quoted\"\ndescription: 'single'\n",
    "name: a\nenabled: true\n",
    "name: a\nversion: 1.2\n",
    "name: a\nwhen: 2024-01-01\n",
    "argument-hint: [scope]\n",
    "tools: [Read, Grep]\nempty: []\n",
    "argument-hint: [pr-number] [priority]\n",
    "tags: [a, [b]]\n",
    "tags: [a: b]\n",
    "tags: []\nother:\n",
    "name: a # comment\n",
    "description: yes\n",
    "model: ~\n",
    "tools: Read, Grep, Bash(git diff *)\n",
    "description: a: b\n",
    "description: |\n  block\n",
    "metadata:\n  owner: me\n",
    "name: x\nname: y\n",
    'description: "with \\"escape\\""\n',
    "name: x\n\ndescription: after a blank line\n",
    "description: ends with colon:\n",
    "hooks:\n  PreToolUse:\n    - matcher: Bash\n",
]


@pytest.mark.parametrize("block", SAMPLES)
def test_simple_mapping_agrees_with_pyyaml(block: str) -> None:
    fast = simple_mapping(block)
    if fast is not None:
        assert fast == yaml.safe_load(block)


def test_simple_mapping_handles_the_common_shapes() -> None:
    assert simple_mapping(SAMPLES[0]) is not None
    assert simple_mapping(SAMPLES[1]) == {
        "name": "x",
        "description": "first line continued here and here",
    }
    assert simple_mapping(SAMPLES[2]) == {"paths": ["src/api/**/*.ts", "lib/**"]}
    assert simple_mapping("argument-hint: [scope]\n") == {"argument-hint": ["scope"]}


@pytest.mark.parametrize(
    "text",
    [
        scan_trees.SKILL_PDF,
        scan_trees.SKILL_RELEASE,
        scan_trees.RULE,
        scan_trees.COMMAND,
        scan_trees.OUTPUT_STYLE,
        scan_trees.SUBAGENT.format(name="a", description="b"),
    ],
)
def test_fixture_front_matter_reads_as_pyyaml_reads_it(text: str) -> None:
    block = text.split("---\n")[1]
    assert front_matter(text).meta == (yaml.safe_load(block) or {})


def test_front_matter_errors_name_the_file_line() -> None:
    fm = front_matter("---\nname: a\ndescription: [oops\n---\nbody\n")
    assert fm.error is not None and fm.error.line == 4
    unclosed = front_matter("---\nname: a\n")
    assert unclosed.error is not None and "closing" in unclosed.error.message
    assert front_matter("# no front matter\n").present is False
    listed = front_matter("---\n- a\n- b\n---\n")
    assert listed.error is not None and "not a mapping" in listed.error.message


def test_json_and_toml_errors_carry_the_line() -> None:
    assert parse_json('{\n  "a": 1,\n}\n')[1].line == 3  # type: ignore[union-attr]
    assert parse_toml("a = 1\nb = \n")[1].line == 2  # type: ignore[union-attr]


def test_closing_fence_is_a_whole_line() -> None:
    fm = front_matter("---\nname: a---b\ndescription: x --- y\n---\nbody\n\n---\n\nmore\n")
    assert fm.meta == {"name": "a---b", "description": "x --- y"}
    assert fm.body == "body\n\n---\n\nmore\n"
    assert front_matter("---\nname: a\n---").meta == {"name": "a"}


def test_copies_of_one_front_matter_each_get_their_own_result(tmp_path: Path) -> None:
    """A scanner parses a front-matter block once however many files repeat it; every copy
    still gets its artifact, its own path and, when the block is broken, its own finding."""
    good = "---\nname: reviewer\ndescription: Reviews changes.\n---\nReview.\n"
    broken = "---\nname: [unclosed\n---\nBody.\n"
    for project in ("one", "two"):
        root = tmp_path / "work" / project
        scan_trees.write(root / ".git" / "HEAD", "ref: refs/heads/main\n")
        scan_trees.write(root / ".claude" / "agents" / "reviewer.md", good)
        scan_trees.write(root / ".claude" / "agents" / "broken.md", broken)
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    report = scanner.scan([tmp_path / "work"])
    agents = [a for a in report.artifacts if a.category == "subagent" and a.name == "reviewer"]
    assert sorted(a.project or "" for a in agents) == [
        str(tmp_path / "work" / "one"),
        str(tmp_path / "work" / "two"),
    ]
    assert all(a.metadata["description"] == "Reviews changes." for a in agents)
    invalid = [f for f in report.findings if f.kind == "invalid-file"]
    assert sorted(os.path.relpath(f.path, tmp_path) for f in invalid) == [
        "work/one/.claude/agents/broken.md",
        "work/two/.claude/agents/broken.md",
    ]
    error = front_matter(broken).error
    assert error is not None and invalid[0].line == invalid[1].line == error.line
