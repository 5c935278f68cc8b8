"""The runtimes a workspace knows, by name.

Built-in adapters are registered lazily: their SDKs (claude-agent-sdk, anthropic) take seconds to
import, so a CLI command that never runs an agent never imports them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from stagent.domain.errors import RuntimeUnavailableError
from stagent.runtimes.base import Runtime
from stagent.runtimes.sandbox import SandboxPolicy
from stagent.runtimes.scripted import ScriptedRuntime

RuntimeFactory = Callable[[], Runtime]


class RuntimeRegistry:
    """Maps a runtime name (``scripted``, ``claude``, ``anthropic``, ``codex``) to its adapter."""

    def __init__(self) -> None:
        self._factories: dict[str, RuntimeFactory] = {}
        self._runtimes: dict[str, Runtime] = {}

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

    def is_simulated(self, name: str) -> bool:
        """True for runtimes that call no model (lazy built-ins are all real runtimes)."""
        runtime = self._runtimes.get(name)
        return runtime is not None and runtime.capabilities.simulated

    def names(self) -> list[str]:
        """Registered runtime names, sorted (imports nothing)."""
        return sorted({*self._runtimes, *self._factories})

    def all(self) -> list[Runtime]:
        """Every registered runtime, sorted by name (builds the lazy ones)."""
        return [self.get(name) for name in self.names()]


def _lazy(module: str, cls: str, **kwargs: object) -> RuntimeFactory:
    def build() -> Runtime:
        runtime_class = getattr(importlib.import_module(module), cls)
        return runtime_class(**kwargs)

    return build


def default_registry(home: Path, containment: SandboxPolicy | None = None) -> RuntimeRegistry:
    """Every built-in runtime; per-run state (CLI configs, Codex homes) lives under ``home``.

    Agent processes run contained by ``containment`` (default: ``home`` hidden from them).
    """
    policy = containment or SandboxPolicy(hidden=(home,))
    registry = RuntimeRegistry()
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
