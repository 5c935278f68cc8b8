"""The runtimes a workspace knows, by name.

Built-in adapters are registered lazily: their SDKs (claude-agent-sdk, anthropic) take seconds to
import, so a CLI command that never runs an agent never imports them.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stagent.domain.errors import RuntimeUnavailableError
from stagent.runtimes.base import Runtime, RuntimeHealth
from stagent.runtimes.sandbox import SandboxPolicy
from stagent.runtimes.scripted import ScriptedRuntime

RuntimeFactory = Callable[[], Runtime]
READY_CACHE_SECONDS = 60.0
"""How long a passed readiness check is trusted (a failed one is checked again each time)."""
HEALTH_TIMEOUT_SECONDS = 60.0


class RuntimeRegistry:
    """Maps a runtime name (``scripted``, ``claude``, ``anthropic``, ``codex``) to its adapter."""

    def __init__(self, *, check_ready: bool = True) -> None:
        self._factories: dict[str, RuntimeFactory] = {}
        self._runtimes: dict[str, Runtime] = {}
        self.check_ready = check_ready
        """False: `require_ready` trusts every runtime (workers elsewhere hold the keys)."""
        self._ready_at: dict[str, float] = {}
        self._building = threading.Lock()

    def register(self, runtime: Runtime) -> None:
        """Add (or replace) a runtime instance."""
        self._factories.pop(runtime.name, None)
        self._runtimes[runtime.name] = runtime

    def register_lazy(self, name: str, factory: RuntimeFactory) -> None:
        """Add a runtime built (and its SDK imported) the first time it is needed."""
        self._runtimes.pop(name, None)
        self._factories[name] = factory

    def get(self, name: str) -> Runtime:
        """The runtime called ``name``, or a clear error listing the known ones."""
        with self._building:  # threads (web requests, the serve warm-up) build each one once
            return self._get(name)

    def _get(self, name: str) -> Runtime:
        if name not in self._runtimes:
            factory = self._factories.pop(name, None)
            if factory is None:
                known = ", ".join(self.names())
                raise RuntimeUnavailableError(
                    f"unknown runtime {name!r}", hint=f"available runtimes: {known}"
                )
            self._runtimes[name] = factory()
        return self._runtimes[name]

    def require(self, name: str) -> None:
        """Raise the same clear error as `get` if ``name`` is unknown (imports nothing)."""
        if name not in self._runtimes and name not in self._factories:
            self.get(name)

    def require_ready(self, name: str) -> None:
        """Raise `RuntimeUnavailableError` with the fix if ``name`` cannot run a task here.

        Simulated runtimes are always ready; a real one must pass its health check (binary,
        version, credentials; no provider call). Passing checks are trusted for a minute.
        """
        runtime = self.get(name)
        if not self.check_ready or runtime.capabilities.simulated:
            return
        checked = self._ready_at.get(name)
        if checked is not None and time.monotonic() - checked < READY_CACHE_SECONDS:
            return
        health = check_health(runtime)
        if not health.ok:
            raise RuntimeUnavailableError(
                f"the {name} runtime is not ready: {health.summary}",
                hint=health.fix
                or "Settings -> Runtimes (or the doctor command) shows what it needs",
            )
        self._ready_at[name] = time.monotonic()

    def is_ready_now(self, name: str) -> bool:
        """True if ``name`` is ready as far as this process already knows, with nothing slow to
        do (no import, no health check): a built runtime that is simulated, or not checked
        here, or passed its check within `READY_CACHE_SECONDS`. False means: ask
        `require_ready` (which may take seconds, or raise)."""
        runtime = self._runtimes.get(name)
        if runtime is None:
            return False
        if not self.check_ready or runtime.capabilities.simulated:
            return True
        checked = self._ready_at.get(name)
        return checked is not None and time.monotonic() - checked < READY_CACHE_SECONDS

    def forget_readiness(self) -> None:
        """Check every runtime again on next use (credentials changed)."""
        self._ready_at.clear()

    def is_simulated(self, name: str) -> bool:
        """True for runtimes that call no model (lazy built-ins are all real runtimes)."""
        runtime = self._runtimes.get(name)
        return runtime is not None and runtime.capabilities.simulated

    def plays_scenarios(self, name: str) -> bool:
        """True for runtimes that play a task's scenario (lazy built-ins are real runtimes)."""
        runtime = self._runtimes.get(name)
        return runtime is not None and runtime.capabilities.scenarios

    def names(self) -> list[str]:
        """Registered runtime names, sorted (imports nothing)."""
        return sorted({*self._runtimes, *self._factories})

    def all(self) -> list[Runtime]:
        """Every registered runtime, sorted by name (builds the lazy ones)."""
        return [self.get(name) for name in self.names()]


def check_health(runtime: Runtime) -> RuntimeHealth:
    """``runtime``'s health check (no probe), run to completion from synchronous code."""
    try:
        with ThreadPoolExecutor(1) as pool:  # its own event loop, even if the caller has one
            future = pool.submit(asyncio.run, runtime.health(probe=False))
            return future.result(timeout=HEALTH_TIMEOUT_SECONDS)
    except Exception as exc:  # a broken install is a not-ready runtime, not a crash
        return RuntimeHealth(runtime.name, False, f"health check failed: {exc}")


def _lazy(module: str, cls: str, **kwargs: object) -> RuntimeFactory:
    def build() -> Runtime:
        runtime_class = getattr(importlib.import_module(module), cls)
        return runtime_class(**kwargs)

    return build


def default_registry(
    home: Path, containment: SandboxPolicy | None = None, *, check_ready: bool = True
) -> RuntimeRegistry:
    """Every built-in runtime; per-run state (CLI configs, Codex homes) lives under ``home``.

    Agent processes run contained by ``containment`` (default: ``home`` hidden from them).
    """
    policy = containment or SandboxPolicy(hidden=(home,))
    registry = RuntimeRegistry(check_ready=check_ready)
    registry.register(ScriptedRuntime())
    registry.register_lazy(
        "claude",
        _lazy("stagent.runtimes.claude", "ClaudeRuntime", home=home, containment=policy),
    )
    registry.register_lazy("anthropic", _lazy("stagent.runtimes.anthropic_api", "AnthropicRuntime"))
    registry.register_lazy(
        "codex",
        _lazy(
            "stagent.runtimes.codex",
            "CodexRuntime",
            state_dir=home / "runtimes" / "codex",
            containment=policy,
        ),
    )
    return registry
