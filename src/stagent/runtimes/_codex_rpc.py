"""A small JSON-RPC client for ``codex app-server`` over the child's stdio pipes.

Framing is one JSON object per line both ways; the server omits ``"jsonrpc"``. Inbound lines
are routed by shape, never by id alone (the server numbers its own requests from 0, like us):

- ``{"id", "method", "params"}``: a server request; it must be answered (`respond`/`fail`);
- ``{"id", "result"|"error"}``: the answer to one of our requests;
- ``{"method", "params"}``: a notification.

Server requests and notifications are delivered in arrival order through `next_message`.
Malformed lines are logged and skipped. Stderr is drained continuously (a full pipe would block
the child) and its last lines are kept, without ANSI colours, for error messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

log = logging.getLogger("stagent.runtimes.codex")

JsonDict = dict[str, Any]
LINE_LIMIT = 64 * 1024 * 1024
"""Largest line accepted from the child (a resumed thread's history arrives in one line)."""
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def stderr_summary(stderr: str) -> str:
    """The useful part of the app-server's stderr: its error lines, else its last lines."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip()
        and "could not create PATH aliases" not in line
        and not re.match(r"\s*(\d+: |at |Stack backtrace)", line)
    ]
    errors = [line for line in lines if "error" in line.lower()]
    return " | ".join((errors or lines)[-3:])[:1000]


class RpcError(Exception):
    """The server answered one of our requests with an error."""

    def __init__(self, method: str, error: JsonDict) -> None:
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", "unknown error"))
        super().__init__(f"{method}: {self.message}")


class ProcessGone(Exception):  # noqa: N818
    """The child exited (or its stdout closed) while we were waiting on it."""


@dataclass(frozen=True, slots=True)
class Message:
    """A notification (``id`` is None) or a server request, as it arrived."""

    method: str
    params: JsonDict
    id: int | str | None = None

    @property
    def is_request(self) -> bool:
        """True for a server request that needs an answer."""
        return self.id is not None


@dataclass
class _Pending:
    method: str
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class JsonRpcProcess:
    """One child process speaking line-delimited JSON-RPC on stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process, secrets: tuple[str, ...] = ()) -> None:
        self.process = process
        self._secrets = tuple(s for s in secrets if s)
        self.stderr_tail: deque[str] = deque(maxlen=40)
        self._pending: dict[int, _Pending] = {}
        self._ids = 0
        self._inbox: asyncio.Queue[Message | None] = asyncio.Queue()
        self._write_lock = asyncio.Lock()
        self._closed = False
        self._readers = [
            asyncio.create_task(self._read_stdout(), name="codex-stdout"),
            asyncio.create_task(self._read_stderr(), name="codex-stderr"),
        ]

    @classmethod
    async def spawn(
        cls, argv: list[str], env: dict[str, str], cwd: str, secrets: tuple[str, ...] = ()
    ) -> JsonRpcProcess:
        """Start ``argv`` in its own process group with piped stdio.

        ``secrets`` never appear in the stderr this client keeps or logs.
        """
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            limit=LINE_LIMIT,
            start_new_session=True,
        )
        return cls(process, secrets)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    @property
    def exited(self) -> bool:
        """True once the child has exited (or its stdout has closed)."""
        return self._closed or self.process.returncode is not None

    async def request(self, method: str, params: JsonDict | None = None) -> Any:
        """Send a request and wait for its result; raises `RpcError` or `ProcessGone`."""
        self._ids += 1
        request_id = self._ids
        pending = _Pending(method)
        self._pending[request_id] = pending
        try:
            await self._send({"id": request_id, "method": method, "params": params or {}})
            return await pending.future
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, method: str, params: JsonDict | None = None) -> None:
        """Send a notification (no answer expected)."""
        message: JsonDict = {"method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)

    async def respond(self, request_id: int | str, result: JsonDict) -> None:
        """Answer a server request."""
        await self._send({"id": request_id, "result": result})

    async def fail(self, request_id: int | str, code: int, message: str) -> None:
        """Answer a server request with an error."""
        await self._send({"id": request_id, "error": {"code": code, "message": message}})

    async def next_message(self) -> Message | None:
        """The next notification or server request; None once the child's stdout closed."""
        message = await self._inbox.get()
        if message is None:
            self._inbox.put_nowait(None)
        return message

    def stderr_text(self) -> str:
        """The child's last stderr lines, for an error message."""
        return "\n".join(self.stderr_tail)

    async def stderr_closed(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until the child's stderr is read to its end: it is
        read concurrently, so right after an exit `stderr_text` may miss its last lines."""
        await asyncio.wait({self._readers[1]}, timeout=timeout)

    async def close(self, grace: float = 1.0) -> int | None:
        """Close stdin, then SIGTERM, then SIGKILL the process group; reap the child."""
        with contextlib.suppress(Exception):
            if self.process.stdin is not None and not self.process.stdin.is_closing():
                self.process.stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None:
                self._signal_group(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), grace)
                break
        # Commands the agent started may outlive the app-server in its process group.
        self._signal_group(signal.SIGKILL)
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._fail_pending()
        return self.process.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    async def _send(self, message: JsonDict) -> None:
        stdin = self.process.stdin
        if self.exited or stdin is None or stdin.is_closing():
            raise ProcessGone("codex app-server is not running")
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        async with self._write_lock:
            try:
                stdin.write(data)
                await stdin.drain()
            except (BrokenPipeError, ConnectionResetError) as exc:
                raise ProcessGone("codex app-server closed its input") from exc

    async def _read_stdout(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while line := await stdout.readline():
                self._route(line)
        except (ValueError, asyncio.LimitOverrunError):
            log.error("codex app-server sent a line longer than %d bytes", LINE_LIMIT)
        finally:
            self._closed = True
            self._fail_pending()
            self._inbox.put_nowait(None)

    def _route(self, line: bytes) -> None:
        try:
            data = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("codex app-server: skipped a malformed line: %.200r", line)
            return
        if not isinstance(data, dict):
            log.warning("codex app-server: skipped a non-object line: %.200r", line)
            return
        message = cast(JsonDict, data)
        method = message.get("method")
        params = message.get("params")
        params = cast(JsonDict, params) if isinstance(params, dict) else {}
        if isinstance(method, str):
            self._inbox.put_nowait(Message(method, params, message.get("id")))
        elif "id" in message:
            self._resolve(message)
        else:
            log.warning("codex app-server: skipped a line of unknown shape: %.200r", line)

    def _resolve(self, message: JsonDict) -> None:
        pending = self._pending.get(message["id"]) if isinstance(message["id"], int) else None
        if pending is None or pending.future.done():
            log.warning("codex app-server: answer to an unknown request id %r", message["id"])
            return
        if isinstance(message.get("error"), dict):
            pending.future.set_exception(RpcError(pending.method, message["error"]))
        else:
            pending.future.set_result(message.get("result"))

    def _fail_pending(self) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ProcessGone("codex app-server exited"))

    async def _read_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        with contextlib.suppress(ValueError, asyncio.LimitOverrunError):
            while line := await stderr.readline():
                text = ANSI.sub("", line.decode("utf-8", "replace")).rstrip()
                for secret in self._secrets:
                    text = text.replace(secret, "[redacted]")
                if text:
                    self.stderr_tail.append(text[:500])
                    log.debug("codex app-server: %s", text)
