"""The SDK's subprocess transport, plus what a cancel needs: the child's pid and a hard stop.

The SDK's own ``close()`` first closes the CLI's stdin and waits up to five seconds for it to exit.
Measured with the bundled CLI, that lets a run go on: a pending permission request fails, the agent
takes another model turn and may run tools Claude Code auto-allows. A cancel must stop the child at
once, so `kill` sends SIGTERM (SIGKILL after a grace period) to the process itself. The session
transcript is written message by message, so a killed run still resumes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import anyio
from claude_agent_sdk._internal.transport.subprocess_cli import SubprocessCLITransport


class KillableTransport(SubprocessCLITransport):
    """`SubprocessCLITransport` that exposes its child and can stop it immediately.

    ``wrap`` turns the CLI's command line into the one actually started (the OS sandbox, see
    `stagent.runtimes.sandbox`); the CLI's stdio pass through it unchanged.
    """

    def __init__(
        self, *args: Any, wrap: Callable[[list[str]], list[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._wrap = wrap

    def _build_command(self) -> list[str]:
        command = super()._build_command()
        return self._wrap(command) if self._wrap is not None else command

    def _child(self) -> Any:
        return getattr(self, "_process", None)

    @property
    def pid(self) -> int | None:
        """The CLI child's process id while it runs."""
        child = self._child()
        return None if child is None else int(child.pid)

    @property
    def running(self) -> bool:
        """True while the CLI child has not exited."""
        child = self._child()
        return child is not None and child.returncode is None

    async def kill(self, grace: float = 2.0) -> None:
        """Stop the child now: SIGTERM, then SIGKILL if it is still there after ``grace`` s."""
        child = self._child()
        if child is None or child.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            child.terminate()
        with anyio.move_on_after(grace):
            await child.wait()
        if child.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            with anyio.move_on_after(grace):
                await child.wait()
