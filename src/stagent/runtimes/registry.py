"""The runtimes a workspace knows, by name."""

from __future__ import annotations

from stagent.domain.errors import RuntimeUnavailableError
from stagent.runtimes.base import Runtime
from stagent.runtimes.scripted import ScriptedRuntime


class RuntimeRegistry:
    """Maps a runtime name (``scripted``, later ``claude``, ``codex`` ...) to its adapter."""

    def __init__(self) -> None:
        self._runtimes: dict[str, Runtime] = {}

    def register(self, runtime: Runtime) -> None:
        """Add (or replace) a runtime."""
        self._runtimes[runtime.name] = runtime

    def get(self, name: str) -> Runtime:
        """The runtime called ``name``, or a clear error listing the known ones."""
        try:
            return self._runtimes[name]
        except KeyError:
            known = ", ".join(sorted(self._runtimes))
            raise RuntimeUnavailableError(
                f"unknown runtime {name!r}",
                hint=f"available runtimes: {known}",
            ) from None

    def names(self) -> list[str]:
        """Registered runtime names, sorted."""
        return sorted(self._runtimes)

    def all(self) -> list[Runtime]:
        """Registered runtimes, sorted by name."""
        return [self._runtimes[name] for name in self.names()]


def default_registry() -> RuntimeRegistry:
    """The runtimes built so far. Real model runtimes arrive with the runtimes capability."""
    registry = RuntimeRegistry()
    registry.register(ScriptedRuntime())
    return registry
