"""The workflow editor's two views of one definition: a form and YAML.

The editor keeps the definition as plain data (possibly invalid while a person types). The form
posts flat fields (``name``, ``pattern``, ``loop.max_iterations``, ``steps-0-prompt`` ...) that
`data_from_form` turns back into that data; `data_from_yaml` reads the YAML view. Whatever the
form has no field for (a blueprint's lineage, a key someone typed in YAML) travels in hidden JSON
fields, so switching views never loses anything. Validation is the one the CLI and the API use
(`stagent.domain.workflow_files`), so the messages are the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import yaml

from stagent.domain.errors import Problem, StagentError
from stagent.domain.workflow_files import (
    StepCheck,
    WorkflowDefinitionError,
    load_definition,
    parse_definition,
    read_text,
)
from stagent.domain.workflows import PATTERNS, WorkflowDefinition

SOURCE = "definition"
"""How editor errors name what they are about (the CLI names the file, the API ``<request>``)."""
STEP_KEYS = (
    "id",
    "name",
    "prompt",
    "profile",
    "runtime",
    "model",
    "depends_on",
    "requires_approval",
    "retry",
    "condition",
    "timeout_seconds",
    "options",
)
TOP_KEYS = ("name", "pattern", "steps", "parallel", "loop", "swarm")
SETTINGS: dict[str, tuple[str, ...]] = {
    "parallel": ("max_concurrency", "on_branch_failure"),
    "loop": ("max_iterations", "time_budget_seconds", "completion_signal"),
    "swarm": ("worker_concurrency",),
}
TEXT_STEP_FIELDS = ("id", "name", "prompt", "profile", "runtime", "model", "condition")
PATTERN_LABELS = {
    "sequence": "Sequence: each step sees the previous step's output",
    "parallel": "Parallel: branches at once, then a synthesis step",
    "checkpoint": "Checkpoint: steps that wait for a person's approval",
    "planner-executor": "Planner-executor: a plan whose steps run next",
    "loop": "Loop: one step repeated until done",
    "swarm": "Swarm: a mayor briefs workers, a refinery merges",
}
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


@dataclass
class StepForm:
    """One step as the form shows it (every value a string)."""

    values: dict[str, str]
    requires_approval: bool = False
    extra: str = ""
    """JSON of the step's keys the form has no field for."""

    def get(self, key: str) -> str:
        """A field's text ('' when unset)."""
        return self.values.get(key, "")


@dataclass
class EditorState:
    """What the editor shows: the form fields, the YAML text, and where errors are."""

    mode: str
    name: str = ""
    pattern: str = "sequence"
    settings: dict[str, str] = field(default_factory=lambda: {})
    steps: list[StepForm] = field(default_factory=lambda: [])
    extra: str = ""
    yaml_text: str = ""
    project: str = ""
    error: StagentError | None = None
    errors: dict[str, str] = field(default_factory=lambda: {})
    """Messages by form field (``steps[1].prompt``), for the form view."""
    hints: dict[str, str] = field(default_factory=lambda: {})
    """How to fix it, by form field."""
    excerpt: list[tuple[int, str]] = field(default_factory=lambda: [])
    """The YAML lines around each problem's line, for the YAML view (0: lines left out)."""
    error_line: int | None = None
    line_problems: dict[int, list[Problem]] = field(default_factory=lambda: {})
    """The problems under each YAML line in error."""

    def setting(self, key: str) -> str:
        """A pattern setting's text ('' when unset)."""
        return self.settings.get(key, "")

    def error_for(self, path: str) -> str:
        """The error message for one form field, if it is the one in error."""
        return self.errors.get(path, "")

    def hint_for(self, path: str) -> str:
        """How to fix the error of one form field ('' when none)."""
        return self.hints.get(path, "")


def role(pattern: str, index: int, count: int, step: StepForm | None = None) -> str:
    """What step ``index`` of ``count`` is in the pattern (its label in the form and graph)."""
    if pattern == "parallel":
        return "Synthesis" if step is not None and step.get("depends_on") else "Branch"
    if pattern == "planner-executor":
        return "Planner" if index == 0 else "Executor"
    if pattern == "loop":
        return "Iteration"
    if pattern == "swarm":
        if index == 0:
            return "Mayor"
        return "Refinery" if index == count - 1 else "Worker"
    if pattern == "checkpoint":
        return "Step" if step is None or not step.requires_approval else "Checkpoint"
    return "Step"


# -- data <-> form ----------------------------------------------------------------------------


def state_from_data(data: dict[str, Any], *, mode: str, project: str = "") -> EditorState:
    """The editor's fields for definition data (which need not be valid)."""
    settings: dict[str, str] = {}
    pattern = _text(data.get("pattern")) or "sequence"
    for key, names in SETTINGS.items():
        block = data.get(key)
        if isinstance(block, dict):
            for name in names:
                value = cast(dict[str, Any], block).get(name)
                if value is not None:
                    settings[f"{key}.{name}"] = _text(value)
    steps: list[StepForm] = []
    raw_steps = data.get("steps")
    for raw in cast(list[Any], raw_steps) if isinstance(raw_steps, list) else []:
        steps.append(_step_form(cast(dict[str, Any], raw) if isinstance(raw, dict) else {}))
    extra = {k: v for k, v in data.items() if k not in TOP_KEYS}
    extra.update({k: data[k] for k in SETTINGS if k in data and not isinstance(data[k], dict)})
    return EditorState(
        mode=mode,
        name=_text(data.get("name")),
        pattern=pattern,
        settings=settings,
        steps=steps,
        extra=json.dumps(extra) if extra else "",
        yaml_text=to_yaml(data),
        project=project,
    )


def _step_form(raw: dict[str, Any]) -> StepForm:
    values = {key: _text(raw.get(key)) for key in TEXT_STEP_FIELDS if raw.get(key) is not None}
    depends = raw.get("depends_on")
    if isinstance(depends, list | tuple):
        values["depends_on"] = ", ".join(_text(d) for d in cast(list[Any], depends))
    elif depends is not None:
        values["depends_on"] = _text(depends)
    retry = raw.get("retry")
    if isinstance(retry, dict):
        for key in ("attempts", "backoff_seconds"):
            value = cast(dict[str, Any], retry).get(key)
            if value is not None:
                values[f"retry.{key}"] = _text(value)
    if raw.get("timeout_seconds") is not None:
        values["timeout_seconds"] = _text(raw["timeout_seconds"])
    if raw.get("options") is not None:
        values["options"] = to_yaml(raw["options"]).rstrip("\n")
    extra = {k: v for k, v in raw.items() if k not in STEP_KEYS}
    if "retry" in raw and not isinstance(raw["retry"], dict):
        extra["retry"] = raw["retry"]
    return StepForm(
        values=values,
        requires_approval=raw.get("requires_approval") is True,
        extra=json.dumps(extra) if extra else "",
    )


def data_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The definition data the form's fields describe (not validated)."""
    data: dict[str, Any] = _json(form.get("extra", ""), "definition")
    for key in ("name", "pattern"):
        value = form.get(key, "").strip()
        if value:
            data[key] = value
    pattern = data.get("pattern")
    for key, names in SETTINGS.items():
        if pattern != key:
            continue
        block = {n: _number(form.get(f"{key}.{n}", "")) for n in names if form.get(f"{key}.{n}")}
        data[key] = {n: v for n, v in block.items() if v != ""}
    data["steps"] = [_step_data(form, index) for index in range(_count(form))]
    return data


def _step_data(form: Mapping[str, str], index: int) -> dict[str, Any]:
    def get(key: str) -> str:
        return form.get(f"steps-{index}-{key}", "").strip()

    step: dict[str, Any] = _json(form.get(f"steps-{index}-extra", ""), f"steps[{index}]")
    for key in TEXT_STEP_FIELDS:
        if key == "prompt":
            value = form.get(f"steps-{index}-prompt", "").strip("\n")
            if value.strip():
                step["prompt"] = value
        elif get(key):
            step[key] = get(key)
    depends = [d for d in re.split(r"[,\s]+", get("depends_on")) if d]
    if depends:
        step["depends_on"] = depends
    if form.get(f"steps-{index}-requires_approval"):
        step["requires_approval"] = True
    retry = {
        k: _number(get(f"retry.{k}")) for k in ("attempts", "backoff_seconds") if get(f"retry.{k}")
    }
    if retry:
        step["retry"] = retry
    if get("timeout_seconds"):
        step["timeout_seconds"] = _number(get("timeout_seconds"))
    options = form.get(f"steps-{index}-options", "")
    if options.strip():
        step["options"] = _options(options, index)
    return step


def _options(text: str, index: int) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1} of the options)" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        error = WorkflowDefinitionError(
            f"{SOURCE}: steps[{index}].options{where}: {problem}",
            hint="run options are YAML or JSON, e.g. model: sonnet",
        )
        error.field = f"steps[{index}].options"
        raise error from None


def _count(form: Mapping[str, str]) -> int:
    text = form.get("step_count", "0").strip()
    return min(int(text), 200) if text.isdigit() else 0


def _json(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        error = WorkflowDefinitionError(
            f"{SOURCE}: {where}: the editor's hidden fields were damaged"
        )
        error.field = where
        raise error
    return cast(dict[str, Any], value)


def _number(text: str) -> Any:
    """Numbers as numbers; anything else stays text, so validation names the field."""
    text = text.strip()
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- data <-> YAML ----------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line prompts; keys in the order people write them."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)  # pyright: ignore[reportUnknownMemberType]


_Dumper.add_representer(str, _represent_str)


def to_yaml(data: Any) -> str:
    """Definition data as YAML text."""
    return yaml.dump(  # pyright: ignore[reportUnknownMemberType]
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )


def data_from_yaml(text: str) -> dict[str, Any]:
    """The YAML view's data; errors name the line."""
    data = read_text(text, SOURCE)
    if data is None:
        return {}
    if not isinstance(data, dict):
        error = WorkflowDefinitionError(
            f"{SOURCE}: a workflow definition must be a mapping with name, pattern and steps"
        )
        error.line = 1
        raise error
    mapping = cast(dict[str, Any], data)
    steps = mapping.get("steps")
    if steps is not None and (
        not isinstance(steps, list) or not all(isinstance(s, dict) for s in cast(list[Any], steps))
    ):
        raise parse_error(text, mapping)
    return mapping


def parse_error(text: str, data: dict[str, Any]) -> WorkflowDefinitionError:
    """The validation error for data that cannot even be shown as a form."""
    try:
        load_definition(text, SOURCE)
    except WorkflowDefinitionError as exc:
        return exc
    del data
    return WorkflowDefinitionError(f"{SOURCE}: steps: must be a list of steps")


# -- validation -------------------------------------------------------------------------------


def validate(
    state_mode: str, form: Mapping[str, str], check_step: StepCheck | None = None
) -> WorkflowDefinition:
    """The definition the editor holds, validated as the CLI and API validate it (``check_step``:
    the workspace's check of each step's runtime and profile, `WorkflowService.step_refusals`)."""
    if state_mode == "yaml":
        return load_definition(form.get("yaml", ""), SOURCE, check_step=check_step)
    return parse_definition(data_from_form(form), source=SOURCE, check_step=check_step)


def with_error(state: EditorState, error: StagentError) -> EditorState:
    """Place an error: each of its problems beside its form field, or under its YAML line (and
    the whole error always on top)."""
    state.error = error
    problems = list(error.problems)
    field_path = getattr(error, "field", None)
    if not problems and field_path:
        state.errors[_form_path(state, field_path)] = error.message
    for problem in problems if field_path else []:
        path = _form_path(state, problem.field)
        note = problem.text()
        state.errors[path] = f"{state.errors[path]}; {note}" if path in state.errors else note
        if problem.hint and problem.hint not in state.hints.get(path, ""):
            had = state.hints.get(path)
            state.hints[path] = f"{had}; {problem.hint}" if had else problem.hint
    line = getattr(error, "line", None)
    if state.mode == "yaml":
        for problem in problems:
            if problem.line:
                state.line_problems.setdefault(problem.line, []).append(problem)
        if line and not state.line_problems:
            state.line_problems[line] = []
        state.excerpt = _excerpt(state.yaml_text, sorted(state.line_problems))
        state.error_line = line
    return state


def _excerpt(text: str, bad: list[int]) -> list[tuple[int, str]]:
    """The lines from two before to one after each bad line; a (0, '') row marks a gap."""
    lines = text.splitlines()
    if bad:
        lines += [""] * max(max(bad) - len(lines), 0)
    shown = sorted({n for b in bad for n in range(max(b - 2, 1), min(b + 1, len(lines)) + 1)})
    rows: list[tuple[int, str]] = []
    for n in shown:
        if rows and n != rows[-1][0] + 1:
            rows.append((0, ""))
        rows.append((n, lines[n - 1]))
    return rows


def _form_path(state: EditorState, path: str) -> str:
    """The form field an error path points at (``steps[1].retry.attempts`` is that field; a
    path the form has no field for falls back to its step or the top)."""
    fields = {"name", "pattern", *(f"{k}.{n}" for k, names in SETTINGS.items() for n in names)}
    step_fields = {*TEXT_STEP_FIELDS, "depends_on", "requires_approval", "timeout_seconds"}
    step_fields |= {"options", "retry.attempts", "retry.backoff_seconds"}
    match = re.match(r"^steps\[(\d+)\](?:\.(.+))?$", path)
    if match:
        index, rest = match.group(1), match.group(2) or ""
        if rest.startswith("options"):
            rest = "options"
        if rest in step_fields:
            return f"steps[{index}].{rest}"
        return f"steps[{index}]"
    if path in fields:
        return path
    head = path.split(".", 1)[0]
    if head in SETTINGS and state.pattern == head:
        return f"{head}.{SETTINGS[head][0]}"
    return "definition"


# -- editing actions --------------------------------------------------------------------------


def blank_step(index: int) -> StepForm:
    """A new step with an id the person can keep."""
    return StepForm(values={"id": f"step-{index + 1}", "name": f"Step {index + 1}"})


STARTERS: dict[str, dict[str, Any]] = {
    "sequence": {
        "steps": [
            {"id": "review", "name": "Review", "prompt": "Review the change and list problems"},
            {"id": "fix", "name": "Fix", "prompt": "Fix what the review found"},
        ]
    },
    "parallel": {
        "parallel": {"max_concurrency": 2, "on_branch_failure": "fail"},
        "steps": [
            {"id": "security", "name": "Security", "prompt": "Review for security problems"},
            {"id": "speed", "name": "Speed", "prompt": "Review for slow code"},
            {
                "id": "summary",
                "name": "Summary",
                "prompt": "Merge the reviews into one list",
                "depends_on": ["security", "speed"],
            },
        ],
    },
    "checkpoint": {
        "steps": [
            {"id": "draft", "name": "Draft", "prompt": "Draft the release notes"},
            {
                "id": "publish",
                "name": "Publish",
                "prompt": "Publish the approved notes",
                "requires_approval": True,
            },
        ]
    },
    "planner-executor": {
        "steps": [
            {"id": "plan", "name": "Plan", "prompt": "Plan the migration as a list of steps"},
            {"id": "execute", "name": "Execute", "prompt": "Carry out the next step of the plan"},
        ]
    },
    "loop": {
        "loop": {"max_iterations": 5, "completion_signal": "LOOP_COMPLETE"},
        "steps": [
            {
                "id": "improve",
                "name": "Improve",
                "prompt": "Make the tests pass; say LOOP_COMPLETE when they all pass",
            }
        ],
    },
    "swarm": {
        "swarm": {"worker_concurrency": 2},
        "steps": [
            {"id": "mayor", "name": "Mayor", "prompt": "Split the audit into one brief per worker"},
            {"id": "worker-1", "name": "Worker 1", "prompt": "Carry out your brief"},
            {"id": "worker-2", "name": "Worker 2", "prompt": "Carry out your brief"},
            {"id": "refinery", "name": "Refinery", "prompt": "Merge the workers' findings"},
        ],
    },
}


def starter(pattern: str, name: str = "") -> dict[str, Any]:
    """A small valid definition of ``pattern`` to start from."""
    chosen = pattern if pattern in PATTERNS else "sequence"
    return {"name": name or f"my-{chosen}", "pattern": chosen, **STARTERS[chosen]}


def is_untouched(form: Mapping[str, str]) -> bool:
    """True when the steps are blank or still a starter's (a pattern change may replace them)."""
    keys = ("prompt", "profile", "runtime", "model", "depends_on", "options")
    if not any(form.get(f"steps-{i}-{k}", "").strip() for i in range(_count(form)) for k in keys):
        return True
    try:
        steps = data_from_form(form)["steps"]
    except WorkflowDefinitionError:
        return False
    return any(steps == start["steps"] for start in STARTERS.values())


FORM_STEP_FIELDS = (
    *TEXT_STEP_FIELDS,
    "depends_on",
    "retry.attempts",
    "retry.backoff_seconds",
    "timeout_seconds",
    "options",
)


def state_from_form(form: Mapping[str, str], *, mode: str = "form") -> EditorState:
    """The form exactly as posted (nothing parsed, so nothing a person typed is lost)."""
    settings = {
        f"{key}.{name}": form.get(f"{key}.{name}", "")
        for key, names in SETTINGS.items()
        for name in names
        if form.get(f"{key}.{name}", "")
    }
    steps = [
        StepForm(
            values={
                key: form.get(f"steps-{i}-{key}", "")
                for key in FORM_STEP_FIELDS
                if form.get(f"steps-{i}-{key}", "")
            },
            requires_approval=bool(form.get(f"steps-{i}-requires_approval")),
            extra=form.get(f"steps-{i}-extra", ""),
        )
        for i in range(_count(form))
    ]
    return EditorState(
        mode=mode,
        name=form.get("name", ""),
        pattern=form.get("pattern", "") or "sequence",
        settings=settings,
        steps=steps,
        extra=form.get("extra", ""),
        project=form.get("project", ""),
    )
