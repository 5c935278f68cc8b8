"""Scenario files for the scripted runtime: what a simulated agent does, step by step.

A scenario is YAML or JSON::

    name: hello
    steps:
      - text: "Looking at the task."
      - delay: 0.2
      - tool: Write
        input: {file_path: notes.md, content: hi}
        output: wrote 2 bytes
      - usage: {model: scripted-1, input_tokens: 120, output_tokens: 40}
      - fail: "simulated provider error"   # optional: ends the run as failed
        retryable: false                   # optional: a retry would fail the same way
    result: "Done."

Errors name the file, the line and the field, and say how to fix them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from stagent.domain.errors import ScenarioError
from stagent.domain.yaml_lines import located

if TYPE_CHECKING:  # PyYAML loads only when a scenario file is read
    pass

StepKey = Literal["text", "delay", "tool", "usage", "fail"]
STEP_KEYS: tuple[StepKey, ...] = ("text", "delay", "tool", "usage", "fail")


MAX_TOKENS = 10**12
"""More tokens than any run reports; larger numbers are typos (``1e38``)."""
MAX_COST_USD = 1_000_000.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UsageSpec(_Strict):
    """Token counts a scripted step reports."""

    model: str = "scripted-1"
    input_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, strict=True)
    output_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, strict=True)
    cache_write_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, strict=True)
    cache_read_tokens: int = Field(default=0, ge=0, le=MAX_TOKENS, strict=True)
    cost_usd: float | None = Field(default=None, ge=0, le=MAX_COST_USD, allow_inf_nan=False)


class TextStep(_Strict):
    """Emit a chunk of text."""

    text: str


class DelayStep(_Strict):
    """Wait, in seconds."""

    delay: float = Field(ge=0, le=3600, allow_inf_nan=False)


class ToolStep(_Strict):
    """Ask to call a tool; if allowed, report ``output`` as its result."""

    tool: str = Field(min_length=1)
    input: dict[str, Any] = Field(default_factory=lambda: {})
    output: str = "ok"


class UsageStep(_Strict):
    """Report usage."""

    usage: UsageSpec


class FailStep(_Strict):
    """End the run as failed with this message; ``retryable`` as the runtime's error says it
    (`stagent.domain.events.ErrorEvent`: false stops a workflow step's retry policy)."""

    fail: str
    retryable: bool | None = None


Step = TextStep | DelayStep | ToolStep | UsageStep | FailStep
_STEP_MODELS: dict[StepKey, type[_Strict]] = {
    "text": TextStep,
    "delay": DelayStep,
    "tool": ToolStep,
    "usage": UsageStep,
    "fail": FailStep,
}


class Scenario(_Strict):
    """A whole scripted run."""

    name: str = "scenario"
    steps: list[Step] = Field(default_factory=lambda: [])
    result: str | None = None


DEFAULT_SCENARIO: dict[str, Any] = {
    "name": "default",
    "steps": [
        {"text": "Reading the task. "},
        {"delay": 0.2},
        {
            "tool": "Read",
            "input": {"file_path": "README.md"},
            "output": "(simulated file contents)",
        },
        {"text": "Drafting a short answer. "},
        {"delay": 0.2},
        {"usage": {"model": "scripted-1", "input_tokens": 420, "output_tokens": 96}},
    ],
    "result": "Simulated run finished: no model was called.",
}
"""What the scripted runtime plays when a task names no scenario."""


def parse_scenario(data: Any, *, source: str = "<scenario>", text: str | None = None) -> Scenario:
    """Validate scenario data; errors name ``source``, the line (given ``text``) and the field."""
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{source}: a scenario must be a mapping with a 'steps' list",
            hint="see `stagent task add --help` for the scenario format",
        )
    raw_steps = data.get("steps", [])  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(raw_steps, list):
        raise _error(source, text, ["steps"], "must be a list of steps")
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        steps.append(_parse_step(raw, index, source, text))
    rest = {k: v for k, v in data.items() if k != "steps"}  # pyright: ignore[reportUnknownVariableType]
    try:
        header = Scenario.model_validate(rest)
    except PydanticValidationError as exc:
        raise _from_pydantic(exc, source, text, []) from None
    return header.model_copy(update={"steps": steps})


def _parse_step(raw: Any, index: int, source: str, text: str | None) -> Step:
    path: list[str | int] = ["steps", index]
    if not isinstance(raw, dict):
        raise _error(source, text, path, f"must be a mapping with one of: {', '.join(STEP_KEYS)}")
    keys: list[StepKey] = [key for key in STEP_KEYS if key in raw]
    if len(keys) != 1:
        found = ", ".join(map(str, raw)) or "nothing"  # pyright: ignore[reportUnknownArgumentType]
        raise _error(
            source, text, path, f"has {found}; a step needs exactly one of: {', '.join(STEP_KEYS)}"
        )
    try:
        return _STEP_MODELS[keys[0]].model_validate(raw)  # pyright: ignore[reportReturnType]
    except PydanticValidationError as exc:
        raise _from_pydantic(exc, source, text, path) from None


def _from_pydantic(
    exc: PydanticValidationError, source: str, text: str | None, prefix: list[str | int]
) -> ScenarioError:
    first = exc.errors()[0]
    path = prefix + list(first["loc"])
    return _error(source, text, path, first["msg"].lower())


def _error(source: str, text: str | None, path: list[str | int], problem: str) -> ScenarioError:
    field, _, where = located(source, text, path, empty="scenario")
    return ScenarioError(
        f"{where}: {field} {problem}",
        hint="fix that field; see the scenario format in `stagent task add --help`",
    )


def load_scenario_file(path: Path) -> Scenario:
    """Read and validate a scenario file (YAML or JSON)."""
    import yaml

    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{source}: no such scenario file", hint="check the path") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{source}: not UTF-8 text (byte {exc.start})",
            hint="scenario files are YAML or JSON in UTF-8",
        ) from None
    except OSError as exc:
        raise ScenarioError(f"{source}: cannot read it ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML or JSON"
        raise ScenarioError(
            f"{source}{line}: {problem}", hint="scenario files are YAML or JSON"
        ) from None
    return parse_scenario(data, source=source, text=text)


def scenario_to_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data (what a task stores in its runtime config)."""
    return scenario.model_dump(exclude_defaults=False)
