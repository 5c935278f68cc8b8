"""Turn-by-turn scripts for the scripted model servers (Anthropic Messages, OpenAI Responses).

A script says what the *model* does on each request of a run. The servers are stateless: the
script is chosen by a marker in the request (``SCENARIO:<name>`` anywhere in the prompt), and the
turn by the number of tool results the request already carries (turn *k* answers the request that
holds *k* tool results). Retries, re-sends and resumed sessions therefore replay identically.

Example (YAML)::

    name: write-file
    model: claude-sonnet-4-6
    turns:
      - text: "I will write the file."
        tool: {name: Write, input: {file_path: hello.txt, content: hi}}
        usage: {input_tokens: 1200, output_tokens: 40, cache_read_tokens: 800}
      - text: "Done."
        echo_tool_results: true      # append what the tool results said
      - error: {status: 500, message: "overloaded"}   # a turn may fail instead

The same script drives both servers; each speaks its own wire protocol.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

MARKER = re.compile(r"SCENARIO:([A-Za-z0-9_.-]+)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCall(_Strict):
    """A tool the model asks to call (Claude Code's tool names; Codex maps its own)."""

    name: str
    input: dict[str, Any] = Field(default_factory=lambda: {})


class TurnUsage(_Strict):
    """The token counts the server reports for one turn."""

    input_tokens: int = Field(default=10, ge=0)
    output_tokens: int = Field(default=5, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    cache_write_1h_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    reasoning_tokens: int = Field(default=0, ge=0)


class TurnError(_Strict):
    """An HTTP error the server answers with instead of a response."""

    status: int = Field(ge=400, le=599)
    message: str = "scripted error"
    type: str | None = None
    """The provider's error type; derived from ``status`` when omitted."""
    retry_after: float | None = Field(default=None, ge=0)
    """Seconds sent in a ``retry-after`` header, if any."""


class ModelTurn(_Strict):
    """What the model does on one request."""

    text: str | None = None
    tool: ToolCall | None = None
    usage: TurnUsage = Field(default_factory=TurnUsage)
    error: TurnError | None = None
    delay: float = Field(default=0, ge=0, le=600)
    """Seconds to wait before answering (to test cancel and deadlines)."""
    end_delay: float = Field(default=0, ge=0, le=600)
    """Seconds between a response's output and its end (OpenAI server: a slow stream whose
    ``response.completed`` comes after the tool call)."""
    echo_tool_results: bool = False
    stream_fault: Literal["cut", "garbage", "overloaded"] | None = None
    """Streamed answers: after the first text delta the stream breaks -- ``cut`` ends it
    without ending the message, ``garbage`` sends an event whose data is not JSON,
    ``overloaded`` sends the failure event the API sends mid-message (Anthropic: an ``error``
    event, ``overloaded_error``; OpenAI: ``response.failed``, ``server_error``)."""
    stream_faults: int = Field(default=0, ge=0)
    """OpenAI server: only the first this many streamed answers to this turn break, later ones
    are whole (a client's retry then succeeds); 0 breaks every one."""


class ModelScript(_Strict):
    """A whole scripted conversation."""

    name: str
    model: str = "claude-sonnet-4-6"
    turns: list[ModelTurn] = Field(min_length=1)

    def turn(self, tool_results_seen: int) -> ModelTurn:
        """The turn that answers a request carrying ``tool_results_seen`` tool results.

        Past the end of the script the last turn repeats with its tool call removed, so a model
        never loops forever.
        """
        if tool_results_seen < len(self.turns):
            return self.turns[tool_results_seen]
        return self.turns[-1].model_copy(update={"tool": None, "error": None})


PLAIN_TEXT = ModelScript(name="plain", turns=[ModelTurn(text="OK.")])
"""What a request without a known marker gets (side calls, titles)."""


class ScriptBook:
    """The scripts a server knows, by name."""

    def __init__(self, scripts: list[ModelScript] | None = None) -> None:
        self._scripts: dict[str, ModelScript] = {}
        for script in scripts or []:
            self.add(script)

    def add(self, script: ModelScript) -> None:
        """Add or replace a script."""
        self._scripts[script.name] = script

    def select(self, request_text: str) -> ModelScript:
        """The script named by the first ``SCENARIO:<name>`` marker, else `PLAIN_TEXT`."""
        match = MARKER.search(request_text)
        if match is None:
            return PLAIN_TEXT
        return self._scripts.get(match.group(1), PLAIN_TEXT)

    @classmethod
    def from_files(cls, *paths: Path) -> ScriptBook:
        """Load scripts from YAML/JSON files (each a script or a list of scripts)."""
        book = cls()
        for path in paths:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            items: list[Any] = data if isinstance(data, list) else [data]  # pyright: ignore[reportUnknownVariableType]
            for item in items:
                book.add(ModelScript.model_validate(item))
        return book
