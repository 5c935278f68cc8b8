"""The interface every runtime adapter implements.

A runtime is started with a `RunRequest` and a `PermissionGate`; it returns an `AgentRun` that
streams `RuntimeEvent`s and can be cancelled. Every tool call the agent wants to make goes through
the gate first.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from stagent.domain.events import JsonDict, RuntimeEvent


@dataclass(frozen=True, slots=True)
class RuntimeCapabilities:
    """What a runtime can do; shown in the UI and used to refuse unsupported requests."""

    resume: bool = False
    cancel: bool = True
    approvals: bool = False
    tools: bool = False
    mcp: bool = False
    simulated: bool = False
    """True when no model is involved (the scripted runtime): labelled *simulated* everywhere."""
    scenarios: bool = False
    """True when the runtime plays a task's scenario file (the scripted runtime and its kin)."""


@dataclass(frozen=True, slots=True)
class RunRequest:
    """Everything a runtime needs to start one run of a task."""

    task_id: str
    prompt: str
    working_directory: str | None = None
    config: dict[str, Any] = field(default_factory=lambda: {})
    session_id: str | None = None
    """Set when resuming an interrupted run of a runtime that supports resume."""
    attempt: int = 1
    """1 for the first execution; higher when the run is re-executed after a crash."""
    model: str | None = None
    instructions: str | None = None
    """Profile instructions, appended to the runtime's own system prompt."""
    allowed_tools: tuple[str, ...] = ()
    max_turns: int | None = None
    max_budget_usd: float | None = None
    env: dict[str, str] = field(default_factory=lambda: {})
    """Extra environment for a runtime's child process (endpoints, keys); never logged."""
    run_id: str | None = None
    """The run record this request executes."""
    stagent_home: str | None = None
    """Stagent's data directory, where runtimes keep per-run scratch state."""


@dataclass(frozen=True, slots=True)
class PermissionRequest:
    """A tool call an agent wants to make, as every runtime reports it to the gate."""

    task_id: str
    runtime: str
    tool: str
    """Claude Code's tool name (``Bash``, ``Write``, ``AskUserQuestion``, ``mcp__srv__tool``...);
    runtimes with other vocabularies map onto it (a Codex command is ``Bash``)."""
    input: JsonDict
    request_id: str = ""
    suggested_rule: str | None = None
    """The "always allow" rule the runtime suggests, in Claude Code's syntax, if any."""
    run_id: str | None = None
    """The run that asks; the engine fills it in (runtimes leave it empty)."""


@dataclass(frozen=True, slots=True)
class PermissionDecision:
    """The answer to a tool request."""

    allowed: bool
    message: str = ""
    """For a denial: what the agent is told. For an allow: unused."""
    decided_by: str = ""
    """Who or what decided: a person, a rule id, a profile policy, a timeout."""
    updated_input: JsonDict | None = None
    """A replacement input; answers to ``AskUserQuestion`` travel here (``answers``)."""
    always: bool = False
    """True when a person chose "always allow": runtimes that can remember it for the session
    (Codex ``acceptForSession``) should."""
    interrupt: bool = False
    """True to stop the whole run, not just refuse this call."""


class PermissionGate(Protocol):
    """Decides tool requests. Governance implements it; the agent waits on the answer."""

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Return whether the tool call may run."""
        ...


@dataclass(frozen=True, slots=True)
class RuntimeHealth:
    """What `stagent doctor` and Settings -> Runtimes show for one runtime."""

    runtime: str
    ok: bool
    summary: str
    """One line: what works or what is wrong and how to fix it."""
    version: str | None = None
    binary: str | None = None
    credentials: str | None = None
    """Where credentials come from (``ANTHROPIC_API_KEY``, the CLI's login...), never the secret."""
    fix: str | None = None
    """When not ok: what to do about it, in a line a person can follow (commands that exist)."""


class AgentRun(ABC):
    """One live run of an agent."""

    @abstractmethod
    def events(self) -> AsyncIterator[RuntimeEvent]:
        """Stream the run's events; the stream ends after a result or an error."""

    @abstractmethod
    async def cancel(self) -> None:
        """Stop the run (and any child process) as soon as possible."""

    async def stop_calls(self) -> None:
        """Make no further provider call: the run reached its spending cap.

        Events already on their way (the usage of a call in flight, a result that completes the
        call that reached the cap) may still follow; the stream then ends. The default cancels
        the run; a runtime whose usage arrives only with its result has nothing left to stop.
        """
        await self.cancel()


class Runtime(ABC):
    """A runtime adapter. Subclasses set the class attributes and implement `start`."""

    name: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[RuntimeCapabilities]

    @abstractmethod
    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        """Start a run; events flow from the returned `AgentRun`."""

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        """Check that the runtime can run: binary, version, credentials; ``probe`` adds a
        trivial provider call."""
        del probe
        return RuntimeHealth(runtime=self.name, ok=True, summary="no checks needed")
