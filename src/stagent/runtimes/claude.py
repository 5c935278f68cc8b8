"""The `claude` runtime: Claude Code through the Claude Agent SDK and its bundled CLI.

A run starts the CLI with the profile's instructions appended to the ``claude_code`` system prompt,
its allowed tools, max turns, budget, model, MCP servers and working directory. Tool calls go
through the `PermissionGate` (see `_claude_permissions` for exactly which calls are asked), the
session id is recorded at start so a run the engine re-executes after a crash resumes the same
session, usage is reported per model as differences of the SDK's cumulative totals, and a cancel
stops the CLI child at once.

Files and environment are described in `_claude_env`; in short, each task gets
``<stagent home>/runs/<task_id>/claude/`` and, when a key is set, a fully isolated CLI.

Run options read from ``RunRequest.config``: ``mcp_servers``, ``tools`` (restrict the tool set),
``permission_mode``, ``gate`` (``"all"`` or ``"claude"``, see `_claude_permissions`),
``max_retries``, ``resume_prompt`` and ``_home``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import tempfile
import warnings
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, cast

import claude_agent_sdk
from claude_agent_sdk import (
    CanUseToolShadowedWarning,
    ClaudeAgentOptions,
    ClaudeSDKError,
    CLINotFoundError,
    ProcessError,
    query,
)

from stagent.domain.events import ErrorEvent, ResultEvent, RuntimeEvent
from stagent.runtimes._claude_channel import EventChannel
from stagent.runtimes._claude_env import (
    RunPaths,
    build_env,
    credentials_source,
    has_key,
    login_file,
    redact,
    secrets_of,
    stagent_home,
)
from stagent.runtimes._claude_permissions import ClaudePermissions
from stagent.runtimes._claude_stream import MessageTranslator, UsageLedger
from stagent.runtimes._claude_transport import KillableTransport
from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
    RuntimeHealth,
)
from stagent.runtimes.sandbox import SandboxPolicy

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRIES = 2
"""The CLI's own default is about ten retries (some three minutes on a dead endpoint)."""
CLOSE_GRACE_SECONDS = 3.0
"""How long a finished run's CLI may take to exit by itself before it is stopped."""
RESUME_PROMPT = "The previous run of this task was interrupted. Continue where you left off."
PERMISSION_MODES = frozenset({"default", "acceptEdits", "plan", "bypassPermissions", "dontAsk"})


def bundled_cli() -> Path | None:
    """The Claude Code binary shipped inside the ``claude-agent-sdk`` wheel, if present."""
    path = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return path if path.is_file() else None


class ClaudeRuntime(Runtime):
    """Claude Code via ``claude-agent-sdk``.

    Args:
        home: The Stagent data directory (per-task run directories live under ``runs/``);
            ``RunRequest.stagent_home`` overrides it, ``$STAGENT_HOME`` is the fallback.
        max_retries: ``CLAUDE_CODE_MAX_RETRIES`` for the CLI (a run's env may override it).
        cli_path: A Claude Code binary to use instead of the bundled one.
        env: Extra environment for every run (endpoint, key); a run's own env wins.
        containment: How the CLI is contained (`stagent.runtimes.sandbox`); the run's Stagent
            home is always hidden from it.
    """

    name: ClassVar[str] = "claude"
    label: ClassVar[str] = "Claude Code (Agent SDK)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(
        resume=True, cancel=True, approvals=True, tools=True, mcp=True
    )

    def __init__(
        self,
        *,
        home: Path | str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        cli_path: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        containment: SandboxPolicy | None = None,
    ) -> None:
        self._home = Path(home) if home is not None else None
        self._max_retries = max_retries
        self._cli_path = Path(cli_path) if cli_path is not None else None
        self._env = dict(env or {})
        self.containment = containment or SandboxPolicy()

    def cli(self) -> Path | None:
        """The Claude Code binary runs use: ``cli_path``, else the bundled one."""
        return self._cli_path or bundled_cli()

    def prepare(self, request: RunRequest) -> tuple[RunPaths, dict[str, str]]:
        """The run's directories (created) and the environment its CLI gets."""
        paths = RunPaths.for_task(stagent_home(request.stagent_home, self._home), request.task_id)
        retries = int(request.config.get("max_retries", self._max_retries))
        env = build_env({**self._env, **request.env}, paths.create(), max_retries=retries)
        return paths, env

    async def start(self, request: RunRequest, gate: PermissionGate) -> ClaudeRun:
        """Prepare the run; the CLI starts when its events are first read."""
        paths, env = self.prepare(request)
        home = stagent_home(request.stagent_home, self._home)
        run = ClaudeRun(request, gate, paths, env, self.cli())
        run.wrap = lambda argv: self.confine(argv, run, home)
        return run

    def confine(self, argv: list[str], run: ClaudeRun, home: Path) -> list[str]:
        """The CLI's command line inside the sandbox: Stagent's home hidden, writes only to the
        working directory and the run's config dir and ``HOME`` (or, logged in without a key,
        the user's own Claude config, which holds the login)."""
        writable = [Path(run.working_directory)]
        if has_key(run.env):
            writable += [run.paths.config, run.paths.home]
        else:
            config = login_file(run.env).parent
            writable += [config, config.parent / ".claude.json"]
        cwd = Path(run.working_directory)
        return self.containment.confine(
            argv, writable=tuple(writable), cwd=cwd, hidden=(home,), tmpdir=run.paths.root / "tmp"
        )

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        """Binary and version, credential source, and with ``probe`` a one-turn call."""
        cli = self.cli()
        creds = credentials_source({**os.environ, **self._env})
        if cli is None or not cli.is_file():
            where = f" at {cli}" if cli else ""
            summary = (
                f"Claude Code CLI not found{where}: reinstall claude-agent-sdk (it bundles it)"
            )
            return RuntimeHealth(self.name, False, summary, credentials=creds)
        version = await cli_version(cli)
        base = RuntimeHealth(self.name, True, "", version=version, binary=str(cli))
        if creds is None:
            return replace(
                base,
                ok=False,
                summary="no credentials: no Anthropic API key and no Claude Code login",
                fix="save an Anthropic API key on Settings -> Runtimes, export ANTHROPIC_API_KEY, "
                f"or log in with the bundled Claude Code: {shlex.quote(str(cli))} /login",
            )
        base = replace(base, credentials=creds, summary=f"Claude Code {version}, {creds}")
        if not probe:
            return base
        problem = await self._probe()
        if problem:
            return replace(base, ok=False, summary=f"a trivial call failed: {problem}")
        return replace(base, summary=f"{base.summary}; a trivial call succeeded")

    async def _probe(self) -> str | None:
        with tempfile.TemporaryDirectory(prefix="stagent-claude-probe-") as home:
            request = RunRequest(
                task_id="health-probe",
                prompt="Reply with the single word OK.",
                max_turns=1,
                config={"tools": []},
                stagent_home=home,
            )
            run = await self.start(request, _DenyAll())
            # Closed before the directory goes: the CLI must be gone, not still writing there.
            async with contextlib.aclosing(run.events()) as events:
                async for event in events:
                    if isinstance(event, ErrorEvent):
                        return event.message
                    if isinstance(event, ResultEvent):
                        return None
        return "the CLI ended without a result"


async def cli_version(cli: Path) -> str | None:
    """The CLI's version: the bundled ``claude.version`` file, else ``claude --version``."""
    version_file = cli.with_name("claude.version")
    if version_file.is_file():
        return version_file.read_text(encoding="utf-8").strip() or None
    try:
        proc = await asyncio.create_subprocess_exec(
            str(cli), "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=15)
    except (OSError, TimeoutError):
        return None
    return out.decode(errors="replace").strip() or None


class _DenyAll:
    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        del request
        return PermissionDecision(allowed=False, message="health probe", decided_by="probe")


class ClaudeRun(AgentRun):
    """One run of Claude Code: the CLI child, its event stream and its cancel."""

    def __init__(
        self,
        request: RunRequest,
        gate: PermissionGate,
        paths: RunPaths,
        env: dict[str, str],
        cli: Path | None,
    ) -> None:
        self._request = request
        self._paths = paths
        self._env = env
        self._cli = cli
        self.wrap: Callable[[list[str]], list[str]] | None = None
        """Turns the CLI's command line into the one started (the runtime's sandbox)."""
        self._channel = EventChannel()
        gate_all = request.config.get("gate", "all") != "claude"
        self.permissions = ClaudePermissions(
            request.task_id, gate, self._emit_request, gate_all=gate_all
        )
        self._ledger = UsageLedger(paths.usage, paths.config / "projects")
        self._stderr: deque[str] = deque(maxlen=20)
        self._transport: KillableTransport | None = None
        self._worker: asyncio.Task[None] | None = None
        self._cancelled = False
        self._translator: MessageTranslator | None = None

    @property
    def _finished(self) -> bool:
        return self._translator is not None and self._translator.finished

    @property
    def pid(self) -> int | None:
        """The CLI child's pid while it runs (for tests, benchmarks and diagnostics)."""
        return self._transport.pid if self._transport else None

    @property
    def paths(self) -> RunPaths:
        """The run's directories."""
        return self._paths

    @property
    def env(self) -> dict[str, str]:
        """The environment the CLI gets (holds secrets: never log it)."""
        return self._env

    @property
    def working_directory(self) -> str:
        """Where the agent works: the project's directory, else the task's own ``work/``."""
        return self._request.working_directory or str(self._paths.work)

    async def events(self) -> AsyncGenerator[RuntimeEvent]:
        """Start the CLI and stream its events until the result or an error.

        A consumer that stops early should close the generator (``contextlib.aclosing``):
        closing stops the CLI and waits for it, so its files are no longer being written.
        """
        self._worker = asyncio.create_task(self._work())
        try:
            async for event in self._channel.stream():
                yield event
        finally:
            await self._shutdown()

    async def cancel(self) -> None:
        """Stop the CLI child now (see `_claude_transport`); the event stream then ends."""
        self._cancelled = True
        await self._stop()
        if self._worker is None:
            self._channel.finish()

    async def stop_calls(self) -> None:
        """The run reached its cap. Its usage arrives with its result, after which the CLI makes
        no further call: let it close normally (its transcript stays whole). Before a result
        (no usage is reported then today) the CLI is stopped."""
        if self._translator is not None and self._translator.concluding:
            return
        await self.cancel()

    async def _shutdown(self) -> None:
        worker = self._worker
        if worker is not None and self._finished and not self._cancelled:
            # After its result the CLI closes by itself once the transcript is written; a kill
            # now could lose the transcript's tail, which a later resume needs.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(worker), CLOSE_GRACE_SECONDS)
        await self._stop()

    async def _stop(self) -> None:
        """Kill the child, then end the background work (even one still spawning the CLI)."""
        if self._transport is not None:
            await self._transport.kill()
        worker = self._worker
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _emit(self, event: RuntimeEvent, wait: bool) -> None:
        stopped = self.permissions.interruption()
        if isinstance(event, ErrorEvent) and stopped:
            event = ErrorEvent(message=stopped)  # not the CLI's internal diagnostic
        await self._channel.emit(event, wait=wait)

    async def _emit_request(self, event: RuntimeEvent) -> None:
        await self._channel.emit(event, wait=True)

    async def _work(self) -> None:
        try:
            request = self._request
            resume = request.session_id if request.attempt > 1 else None
            if resume:
                prompt = str(request.config.get("resume_prompt") or RESUME_PROMPT)
                outcome = await self._attempt(prompt, resume)
                if outcome != "no-session":
                    return
                log.warning("task %s: session %s is gone; starting afresh", request.task_id, resume)
            await self._attempt(request.prompt, None)
        except Exception as exc:
            log.exception("task %s: the claude runtime failed", self._request.task_id)
            message = f"the claude runtime failed: {type(exc).__name__}: {exc}"
            await self._emit(ErrorEvent(message=self._redact(message)), False)
        finally:
            self._channel.finish()

    async def _attempt(self, prompt: str, resume: str | None) -> str:
        """Run the CLI once; returns ``"no-session"`` when a resume found no transcript."""
        options = self._options(resume)
        transport = KillableTransport(
            prompt=prompt,
            options=replace(options, permission_prompt_tool_name="stdio"),
            wrap=self.wrap,
        )
        self._transport = transport
        translator = MessageTranslator(self._emit, self.permissions.announce, self._ledger)
        self._translator = translator
        if self._cancelled:
            return "cancelled"
        # The profile's allowed tools skip the callback on purpose (pre-approved).
        warnings.filterwarnings("ignore", category=CanUseToolShadowedWarning)
        try:
            async for message in query(prompt=prompt, options=options, transport=transport):
                await translator.handle(message)
        except ClaudeSDKError as exc:
            if self._cancelled or translator.finished:
                # Also the SDK's ResultError: the CLI's exit after an error result, which the
                # translator has reported already (as the run's ErrorEvent).
                return "done"
            if resume and translator.session_id is None and _no_session(exc):
                return "no-session"
            retryable = _retryable(exc, started=translator.session_id is not None)
            await self._emit(ErrorEvent(message=self._failure(exc), retryable=retryable), False)
        return "done"

    def _failure(self, exc: ClaudeSDKError) -> str:
        if isinstance(exc, CLINotFoundError):
            return f"Claude Code CLI not found: {exc}"
        tail = " | ".join(self._stderr)
        detail = _exit_words(exc) + (f" (stderr: {tail})" if tail else "")
        return self._redact(f"Claude Code failed: {detail}")

    def _redact(self, text: str) -> str:
        return redact(text, secrets_of(self._env))

    def _options(self, resume: str | None) -> ClaudeAgentOptions:
        request, config = self._request, self._request.config
        instructions = request.instructions or config.get("instructions")
        prompt: dict[str, Any] = {"type": "preset", "preset": "claude_code"}
        if instructions:
            prompt["append"] = str(instructions)
        mode = config.get("permission_mode", "default")
        options = ClaudeAgentOptions(
            system_prompt=cast(Any, prompt),
            allowed_tools=list(request.allowed_tools),
            max_turns=request.max_turns,
            max_budget_usd=request.max_budget_usd,
            model=request.model or config.get("model"),
            cwd=self.working_directory,
            env=self._env,
            resume=resume,
            permission_mode=mode if mode in PERMISSION_MODES else "default",
            can_use_tool=self.permissions.can_use_tool,
            hooks=self.permissions.hooks(),
            stderr=self._stderr.append,
            cli_path=self._cli,
        )
        if isinstance(config.get("mcp_servers"), dict):
            options.mcp_servers = config["mcp_servers"]
        if isinstance(config.get("tools"), list):
            options.tools = [str(tool) for tool in cast(list[Any], config["tools"])]
        return options


def _exit_words(exc: ClaudeSDKError) -> str:
    """How the CLI ended, in words: a signal by its name (the SDK says "exit code -9" and
    "Check stderr output for details", which is not where the details are)."""
    code = exc.exit_code if isinstance(exc, ProcessError) else None
    if code is None:
        return str(exc)
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"the CLI was killed by {signal.Signals(-code).name}"
    return f"the CLI exited with code {code}"


def _retryable(exc: ClaudeSDKError, *, started: bool) -> bool | None:
    """A missing CLI fails every attempt; a CLI that ended after its session started can be
    resumed by a later attempt; before that, nobody can tell."""
    if isinstance(exc, CLINotFoundError):
        return False
    return True if started else None


def _no_session(exc: ClaudeSDKError) -> bool:
    return "No conversation found" in str(exc)
