"""The ``codex`` runtime: OpenAI's Codex CLI, driven as ``codex app-server`` over stdio JSON-RPC.

The binary comes pinned with the ``openai-codex-cli-bin`` package. Each task gets a private
``CODEX_HOME`` (written by Stagent: one model provider, plugins and endless retries off, no
update checks) and a clean ``HOME``; the child's environment is built from an allow-list. The
thread runs with ``approvalPolicy = "untrusted"`` and ``approvalsReviewer = "user"``, so every
command and every file change comes to Stagent's permission gate first.

Where the model lives, in order of precedence:

- ``RunRequest.config["provider"]`` (``base_url``, ``name``, ``env_key``, ``query_params``,
  ``http_headers``), a provider set in Stagent's settings;
- ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` in ``RunRequest.env``;
- the constructor's ``base_url`` / ``api_key``;
- ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` in the environment.

Run options read from ``RunRequest.config``: ``model``, ``sandbox`` (``read-only``,
``workspace-write``, ``danger-full-access``) and ``deadline_seconds``. ``RunRequest.instructions``
become the thread's developer instructions.

Usage is reported per model response; ``input_tokens`` is the *uncached* input (Codex counts
cached tokens inside its input), ``cache_read_tokens`` the cached part, ``reasoning_tokens`` the
part of ``output_tokens`` spent reasoning.

Not passed to Codex (it has no equivalent): ``allowed_tools`` (every call reaches the gate,
whose rules decide), ``max_turns`` and ``max_budget_usd`` (budgets are governance's, from the
usage events); MCP servers (Codex 0.163 defers MCP tools behind its own tool search; not wired
yet, so ``capabilities.mcp`` is False).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, cast

from stagent.domain.errors import RuntimeUnavailableError, ValidationError
from stagent.domain.events import ErrorEvent
from stagent.domain.limits import API_ROOT_EXAMPLE, url_problem
from stagent.runtimes._codex_config import (
    API_KEY_ENV,
    SANDBOXES,
    CodexOptions,
    Provider,
    TaskDirs,
    child_env,
    config_data,
    daemon_dir,
    render_toml,
)
from stagent.runtimes._codex_rpc import JsonRpcProcess, ProcessGone, RpcError, stderr_summary
from stagent.runtimes._codex_run import CodexRun, RunPlan
from stagent.runtimes.base import (
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
    RuntimeHealth,
)
from stagent.runtimes.sandbox import SandboxPolicy

DEFAULT_DEADLINE_SECONDS = 1800.0
"""A run that has not ended after this long is interrupted (an unanswered approval, a hung
provider); ``RunRequest.config["deadline_seconds"]`` overrides it per run."""


CODEX_PACKAGE = "openai-codex-cli-bin==0.163.0"
"""The pinned Codex binary: Stagent's ``codex`` extra (not installed by default: 360 MB)."""


def install_command() -> str:
    """The command that installs the pinned binary into this Python environment."""
    return f"{shlex.quote(sys.executable)} -m pip install {CODEX_PACKAGE}"


def bundled_codex() -> str | None:
    """The pinned Codex binary from ``openai-codex-cli-bin``, else ``codex`` on PATH."""
    try:
        module = importlib.import_module("codex_cli_bin")  # openai-codex-cli-bin, untyped
        path = Path(str(module.bundled_codex_path()))
        if path.is_file():
            return str(path)
    except (ImportError, OSError, AttributeError):
        pass
    return shutil.which("codex")


def _default_state_dir() -> Path:
    home = os.environ.get("STAGENT_HOME")
    return (Path(home) if home else Path.home() / ".stagent") / "runtimes" / "codex"


class CodexRuntime(Runtime):
    """Runs tasks on the Codex CLI's app-server, one process per run."""

    name: ClassVar[str] = "codex"
    label: ClassVar[str] = "Codex (OpenAI)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(
        resume=True, cancel=True, approvals=True, tools=True, mcp=False
    )

    def __init__(
        self,
        *,
        codex_path: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        state_dir: Path | None = None,
        sandbox: str = "workspace-write",
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        request_max_retries: int = 2,
        stream_max_retries: int = 2,
        stream_idle_timeout_ms: int = 300_000,
        keep_state: bool = False,
        environ: Mapping[str, str] | None = None,
        containment: SandboxPolicy | None = None,
    ) -> None:
        """Configure the runtime; nothing starts until a run does.

        Args:
            codex_path: The Codex binary (default: the pinned bundled one).
            base_url: The Responses API root, e.g. ``http://127.0.0.1:8765/v1``.
            api_key: The provider's key (default: ``OPENAI_API_KEY``); never logged.
            model: The model slug (default: Codex's own default).
            state_dir: Where per-task Codex state lives (default:
                ``$STAGENT_HOME/runtimes/codex``).
            sandbox: Codex's sandbox for commands.
            deadline_seconds: The default per-run deadline.
            request_max_retries: Codex's HTTP retries per model request.
            stream_max_retries: Codex's retries of a dropped response stream.
            stream_idle_timeout_ms: How long a silent response stream is tolerated.
            keep_state: Keep each task's ``CODEX_HOME`` after the run (for debugging).
            environ: The environment to read ``OPENAI_*`` and the allow-listed variables from
                (default: this process's).
            containment: The OS sandbox the app-server (and every command it runs) starts in
                (`stagent.runtimes.sandbox`); ``state_dir`` is always hidden from it, except the
                run's own Codex home. Codex's ``sandbox`` applies inside it, in addition.
        """
        if sandbox not in SANDBOXES:
            raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}")
        self.codex_path = codex_path
        self.base_url = base_url
        self._api_key = api_key
        self.model = model
        self.state_dir = state_dir
        self.sandbox = sandbox
        self.deadline_seconds = deadline_seconds
        self.retries = (request_max_retries, stream_max_retries)
        self.stream_idle_timeout_ms = stream_idle_timeout_ms
        self.keep_state = keep_state
        self._environ = environ
        self.containment = containment or SandboxPolicy()

    def __repr__(self) -> str:
        return f"CodexRuntime(base_url={self.base_url!r}, model={self.model!r})"

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment the runtime reads its defaults from."""
        return os.environ if self._environ is None else self._environ

    def binary(self) -> str | None:
        """The Codex binary this runtime would launch, if it exists."""
        if self.codex_path:
            found = Path(self.codex_path).is_file() and self.codex_path
            return found or shutil.which(self.codex_path)
        return bundled_codex()

    def provider(self, request: RunRequest | None = None) -> Provider:
        """The model provider a run would use. Raises `RuntimeUnavailableError` when the base
        URL it would take from the environment (or the constructor) is not an http(s) URL, and
        `ValidationError` for a bad ``provider`` in the run's options."""
        env = request.env if request else {}
        given = (
            ("OPENAI_BASE_URL", env.get("OPENAI_BASE_URL")),
            ("base_url", self.base_url),
            ("OPENAI_BASE_URL", self.environ.get("OPENAI_BASE_URL")),
        )
        source, base_url = next(((k, v) for k, v in given if v), ("", Provider().base_url))
        problem = url_problem(base_url) if source else None
        if problem is not None:
            raise RuntimeUnavailableError(
                f"codex: {source}: {problem}",
                hint=f"set {source} to the provider's API root ({API_ROOT_EXAMPLE}), or unset "
                "it for OpenAI's",
            )
        fallback = Provider(base_url=base_url)
        data = request.config.get("provider") if request else None
        if isinstance(data, dict):
            try:
                return Provider.from_config(cast(dict[str, Any], data), fallback)
            except ValueError as exc:
                raise ValidationError(f"codex {exc}") from None
        return fallback

    def api_key(self, provider: Provider, request: RunRequest | None = None) -> str | None:
        """The key a run would send (never print it)."""
        env = request.env if request else {}
        names = list(dict.fromkeys((provider.env_key, API_KEY_ENV)))
        found = next((env[name] for name in names if env.get(name)), None) or self._api_key
        return found or next((self.environ[n] for n in names if self.environ.get(n)), None)

    def plan(self, request: RunRequest) -> RunPlan:
        """Resolve a run: directories, ``config.toml``, environment and options.

        Raises `RuntimeUnavailableError` (no binary, no key) or `ValidationError` (bad options).
        """
        binary = self.binary()
        if binary is None:
            raise RuntimeUnavailableError(
                "codex: the Codex CLI binary was not found",
                hint=f"install it (Stagent's codex extra): {install_command()}",
            )
        provider = self.provider(request)
        key = self.api_key(provider, request)
        if not key:
            raise RuntimeUnavailableError(
                f"codex: no API key for {provider.base_url}",
                hint=f"set {provider.env_key} (or point OPENAI_BASE_URL at a local server)",
            )
        config = request.config
        sandbox = str(config.get("sandbox") or self.sandbox)
        if sandbox not in SANDBOXES:
            raise ValidationError(
                f"codex sandbox: {sandbox!r} is not one of {', '.join(SANDBOXES)}"
            )
        deadline = float(config.get("deadline_seconds") or self.deadline_seconds)
        if deadline <= 0:
            raise ValidationError("codex deadline_seconds: must be positive")
        model = request.model or config.get("model") or self.model
        dirs = TaskDirs.for_task(self.state_dir or _default_state_dir(), request.task_id)
        resume = request.session_id if request.session_id and request.attempt > 1 else None
        dirs.prepare(fresh=resume is None)
        options = CodexOptions(
            provider=provider,
            model=str(model) if model else None,
            request_max_retries=self.retries[0],
            stream_max_retries=self.retries[1],
            stream_idle_timeout_ms=self.stream_idle_timeout_ms,
        )
        (dirs.codex_home / "config.toml").write_text(render_toml(config_data(options)), "utf-8")
        cwd = request.working_directory or str(dirs.work)
        if not Path(cwd).is_dir():
            raise ValidationError(f"codex: the working directory {cwd} does not exist")
        env = child_env(
            dirs=dirs, provider=provider, api_key=key, extra=request.env, parent=dict(self.environ)
        )
        state_dir = self.state_dir or _default_state_dir()
        argv = self.containment.confine(
            [binary, "app-server", "--strict-config"],
            writable=(Path(cwd), dirs.codex_home, dirs.home),
            cwd=Path(cwd),
            hidden=(state_dir,),
            tmpdir=dirs.home / "tmp",
            # Codex's own sandbox works, and a host Codex daemon's socket stays out of reach.
            private_dirs=(daemon_dir(),),
        )
        return RunPlan(
            task_id=request.task_id,
            argv=argv,
            env=env,
            cwd=str(Path(cwd).resolve()),
            dirs=dirs,
            prompt=request.prompt,
            sandbox=sandbox,
            deadline_seconds=deadline,
            model=options.model,
            instructions=request.instructions,
            resume_thread=resume,
            keep_state=self.keep_state,
            client_version=_stagent_version(),
            provider_url=provider.base_url,
            secrets=(key,),
        )

    async def start(self, request: RunRequest, gate: PermissionGate) -> CodexRun:
        """Start the app-server and the turn; events flow from the returned run."""
        return CodexRun(self.plan(request), gate)

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        """Binary and version, configuration pre-flight, credentials; ``probe`` adds a real turn."""
        binary = self.binary()
        if binary is None:
            return RuntimeHealth(
                runtime=self.name,
                ok=False,
                summary="Codex CLI not installed (an optional part of Stagent)",
                fix=install_command(),
            )
        try:
            provider = self.provider()
        except RuntimeUnavailableError as exc:
            return RuntimeHealth(
                runtime=self.name, ok=False, summary=exc.message, binary=binary, fix=exc.hint
            )
        has_key = bool(self.api_key(provider))
        credentials = f"{provider.env_key} ({'set' if has_key else 'missing'})"
        version, problem = await self._preflight(binary, provider)
        fix = None
        if problem is None and not has_key:
            problem = f"no API key: {provider.env_key} is not set"
            fix = f"save an OpenAI API key on Settings -> Runtimes, or export {provider.env_key}"
        if problem is None and probe:
            problem = await self._trivial_call()
        where = f"provider {provider.base_url}"
        return RuntimeHealth(
            runtime=self.name,
            ok=problem is None,
            summary=problem or f"ready: {version} via {where}",
            version=version,
            binary=binary,
            credentials=credentials,
            fix=fix,
        )

    async def _preflight(self, binary: str, provider: Provider) -> tuple[str | None, str | None]:
        """``codex --version`` and a strict config load, both offline, in a scratch home."""
        with tempfile.TemporaryDirectory(prefix="stagent-codex-") as scratch:
            dirs = TaskDirs(Path(scratch))
            dirs.prepare(fresh=True)
            options = CodexOptions(provider=provider, model=self.model)
            (dirs.codex_home / "config.toml").write_text(render_toml(config_data(options)), "utf-8")
            env = child_env(
                dirs=dirs, provider=provider, api_key=None, extra={}, parent=dict(self.environ)
            )
            code, out = await _run_quietly([binary, "--version"], env, scratch)
            version = out.strip().splitlines()[-1] if code == 0 and out.strip() else None
            if version is None:
                return None, f"`{binary} --version` failed (exit code {code})"
            if "codex" not in version.lower():
                return None, f"{binary} is not the Codex CLI (its --version says {version[:80]!r})"
            problem = await _strict_start([binary, "app-server", "--strict-config"], env, scratch)
            if problem is not None:
                return version, f"Codex rejected Stagent's configuration: {problem}"
        return version, None

    async def _trivial_call(self) -> str | None:
        request = RunRequest(
            task_id="health-check",
            prompt="Reply with the single word OK.",
            config={"deadline_seconds": 60},
        )
        run = await self.start(request, _DenyAll())
        async for event in run.events():
            if isinstance(event, ErrorEvent):
                return f"a trivial call failed: {event.message}"
        return None


class _DenyAll:
    """The health check's gate: no tool may run."""

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        del request
        return PermissionDecision(allowed=False, message="health check", decided_by="health check")


async def _run_quietly(argv: list[str], env: dict[str, str], cwd: str) -> tuple[int, str]:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
            cwd=cwd,
        )
    except OSError as exc:
        return 127, str(exc)
    try:
        out, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        return -1, "timed out"
    return process.returncode or 0, out.decode("utf-8", "replace")


async def _strict_start(argv: list[str], env: dict[str, str], cwd: str) -> str | None:
    """Start an app-server with ``--strict-config`` and shake hands; the problem, if any."""
    try:
        rpc = await JsonRpcProcess.spawn(argv, env, cwd)
    except OSError as exc:
        return str(exc)
    try:
        client = {"name": "stagent", "version": _stagent_version()}
        await asyncio.wait_for(rpc.request("initialize", {"clientInfo": client}), 30)
    except (ProcessGone, RpcError, TimeoutError) as exc:
        await rpc.close()
        return stderr_summary(rpc.stderr_text()) or str(exc) or type(exc).__name__
    await rpc.close()
    return None


def _stagent_version() -> str:
    try:
        from importlib.metadata import version

        return version("stagent")
    except Exception:
        return "0"


__all__ = ["DEFAULT_DEADLINE_SECONDS", "CodexRuntime", "bundled_codex"]
