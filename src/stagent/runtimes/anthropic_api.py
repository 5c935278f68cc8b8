"""The `anthropic` runtime: one streamed Messages API call, no local tools.

For work that needs no tools (chat, planning, synthesis, task assist). The endpoint and key come
the way the ``anthropic`` package's users set them: ``ANTHROPIC_BASE_URL`` and
``ANTHROPIC_API_KEY`` (or ``ANTHROPIC_AUTH_TOKEN``), from the environment, the runtime's ``env`` or
the run's own ``RunRequest.env`` (last wins). Text streams as `TextEvent`s (deltas coalesced into
readable chunks), then one `UsageEvent` with every token category, then the `ResultEvent`.
Provider errors become an `ErrorEvent` carrying the HTTP status, the error type and the provider's
own message. Run options read from ``RunRequest.config``: ``model``, ``max_tokens``,
``max_retries``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, cast

import anthropic
from anthropic import AsyncAnthropic
from anthropic.types import Message, Usage

from stagent.domain.errors import RuntimeUnavailableError
from stagent.domain.events import ErrorEvent, ResultEvent, RuntimeEvent, TextEvent, UsageEvent
from stagent.runtimes._claude_channel import EventChannel
from stagent.runtimes._claude_env import redact, secrets_of
from stagent.runtimes.base import (
    AgentRun,
    PermissionGate,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
    RuntimeHealth,
)

log = logging.getLogger(__name__)

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 8192
DEFAULT_MAX_RETRIES = 2
ENV_VARS = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
RETRYABLE_ERROR_TYPES = frozenset({"overloaded_error", "api_error", "rate_limit_error"})
"""The error types of a stream's ``error`` event that a later attempt may not meet."""
FLUSH_CHARS = 200
FLUSH_SECONDS = 0.25
STREAM_CUT = "the Anthropic API's stream ended before its message did (the connection closed)"


class AnthropicRuntime(Runtime):
    """The Anthropic Messages API through the ``anthropic`` package.

    Args:
        default_model: The model when neither the run nor its config names one.
        max_retries: The client's retries on 408/409/429/5xx (a run's config may override it).
        max_tokens: The default output limit per call.
        env: Endpoint and credentials for every run (``ANTHROPIC_*``); a run's own env wins.
    """

    name: ClassVar[str] = "anthropic"
    label: ClassVar[str] = "Anthropic API"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(
        resume=False, cancel=True, approvals=False, tools=False, mcp=False
    )

    def __init__(
        self,
        *,
        default_model: str = DEFAULT_MODEL,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._default_model = default_model
        self._max_retries = max_retries
        self._max_tokens = max_tokens
        self._env = dict(env or {})

    def resolve_env(self, request_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The ``ANTHROPIC_*`` settings a run uses: process env, then runtime, then run."""
        merged = {name: os.environ[name] for name in ENV_VARS if os.environ.get(name)}
        merged |= self._env | dict(request_env or {})
        return {name: merged[name] for name in ENV_VARS if merged.get(name)}

    def client(self, env: Mapping[str, str], max_retries: int | None = None) -> AsyncAnthropic:
        """An async client for ``env`` (endpoint, key or token)."""
        return AsyncAnthropic(
            base_url=env.get("ANTHROPIC_BASE_URL"),
            api_key=env.get("ANTHROPIC_API_KEY"),
            auth_token=env.get("ANTHROPIC_AUTH_TOKEN"),
            max_retries=self._max_retries if max_retries is None else max_retries,
        )

    async def start(self, request: RunRequest, gate: PermissionGate) -> AnthropicRun:
        """Prepare the call; it is made when the events are first read."""
        del gate  # no tools, so nothing to ask
        env = self.resolve_env(request.env)
        if not (env.get("ANTHROPIC_API_KEY") or env.get("ANTHROPIC_AUTH_TOKEN")):
            raise RuntimeUnavailableError(
                "the anthropic runtime has no credentials",
                hint="set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN)",
            )
        config = request.config
        params: dict[str, Any] = {
            "model": request.model or config.get("model") or self._default_model,
            "max_tokens": int(config.get("max_tokens") or self._max_tokens),
            "messages": [{"role": "user", "content": request.prompt}],
        }
        if request.instructions:
            params["system"] = request.instructions
        retries = config.get("max_retries")
        return AnthropicRun(
            self.client(env, None if retries is None else int(retries)), params, env
        )

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        """Credentials present, and with ``probe`` a one-token call."""
        env = self.resolve_env()
        creds = next((n for n in ENV_VARS[1:] if env.get(n)), None)
        version = f"anthropic {anthropic.__version__}"
        if creds is None:
            return RuntimeHealth(
                self.name,
                False,
                "no credentials: no Anthropic API key",
                version=version,
                fix="save an Anthropic API key on Settings -> Runtimes, "
                "or export ANTHROPIC_API_KEY",
            )
        health = RuntimeHealth(self.name, True, f"{version}, {creds}", version, None, creds)
        if not probe:
            return health
        try:
            await self.client(env, 0).messages.create(
                model=self._default_model,
                max_tokens=1,
                messages=[{"role": "user", "content": "Reply with OK."}],
            )
        except anthropic.APIError as exc:
            problem = redact(error_message(exc, env.get("ANTHROPIC_BASE_URL")), secrets_of(env))
            return RuntimeHealth(self.name, False, f"a trivial call failed: {problem}", version)
        return RuntimeHealth(
            self.name, True, f"{health.summary}; a trivial call succeeded", version, None, creds
        )


def error_message(exc: anthropic.APIError, base_url: str | None) -> str:
    """The provider's own words for a failed call, with its HTTP status and error type (an
    ``error`` event in a stream the API had answered with 200 says "mid-stream" instead)."""
    if isinstance(exc, anthropic.APIStatusError):
        kind, message = _error_fields(exc)
        where = "mid-stream" if exc.status_code < 300 else str(exc.status_code)
        return f"Anthropic API error {where} ({kind}): {message}"
    where = base_url or "the default endpoint"
    return f"could not reach the Anthropic API at {where}: {exc}"


def is_retryable(exc: anthropic.APIError) -> bool:
    """Whether the same call may succeed later: no answer, a status the API retries, or an
    ``error`` event mid-stream of a retryable type (``overloaded_error``, ``api_error``)."""
    if not isinstance(exc, anthropic.APIStatusError):
        return True
    if exc.status_code < 300:
        return _error_fields(exc)[0] in RETRYABLE_ERROR_TYPES
    return exc.status_code in RETRYABLE_STATUSES


def _error_fields(exc: anthropic.APIStatusError) -> tuple[str, str]:
    error = _dict(_dict(exc.body).get("error"))
    return str(error.get("type") or type(exc).__name__), str(error.get("message") or exc.message)


def _dict(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def usage_event(message: Message) -> UsageEvent:
    """Every token category of a finished message."""
    usage: Usage = message.usage
    creation = usage.cache_creation
    return UsageEvent(
        model=message.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_write_tokens=usage.cache_creation_input_tokens or 0,
        cache_write_1h_tokens=(creation.ephemeral_1h_input_tokens if creation else 0) or 0,
        cache_read_tokens=usage.cache_read_input_tokens or 0,
        request_id=f"anthropic:{message.id}" if message.id else None,
    )


class AnthropicRun(AgentRun):
    """One streamed Messages API call."""

    def __init__(self, client: AsyncAnthropic, params: dict[str, Any], env: dict[str, str]):
        self._client = client
        self._params = params
        self._env = env
        self._channel = EventChannel()
        self._worker: asyncio.Task[None] | None = None
        self._cancelled = False
        self._partial: Message | None = None
        self._buffer: list[str] = []
        """The message as streamed so far (from its ``message_start`` on)."""

    async def events(self) -> AsyncIterator[RuntimeEvent]:
        """Make the call and stream its events."""
        self._worker = asyncio.create_task(self._work())
        try:
            async for event in self._channel.stream():
                yield event
        finally:
            await self._stop_worker()
            await self._client.close()

    async def cancel(self) -> None:
        """Close the stream now; the event stream then ends without a result."""
        self._cancelled = True
        if self._worker is None:
            self._channel.finish()
        await self._stop_worker()

    async def _stop_worker(self) -> None:
        worker = self._worker
        if worker is not None and not worker.done():
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _work(self) -> None:
        try:
            message = await self._stream()
            await self._channel.emit(usage_event(message))
            if message.stop_reason is None:  # the stream ended before the message did
                await self._channel.emit(ErrorEvent(message=STREAM_CUT, retryable=True))
                return
            text = "".join(b.text for b in message.content if b.type == "text")
            await self._channel.emit(ResultEvent(text=text))
        except anthropic.APIError as exc:
            await self._emit_partial_usage()
            await self._channel.emit(self._error(exc))
        except json.JSONDecodeError as exc:
            await self._emit_partial_usage()
            message = f"the Anthropic API sent a malformed stream event ({exc})"
            await self._channel.emit(ErrorEvent(message=message, retryable=True))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("the anthropic runtime failed")
            message = f"the anthropic runtime failed: {type(exc).__name__}: {exc}"
            await self._channel.emit(ErrorEvent(message=redact(message, secrets_of(self._env))))
        finally:
            self._channel.finish()

    async def _emit_partial_usage(self) -> None:
        """A call that failed after the API started its message: the text streamed so far is
        shown and what the message reported (its input; its output up to the failure) is
        booked, as the provider counts it."""
        await self._flush()
        if self._partial is not None:
            await self._channel.emit(usage_event(self._partial))

    async def _stream(self) -> Message:
        last_flush = time.monotonic()
        async with self._client.messages.stream(**self._params) as stream:
            async for event in stream:
                self._partial = stream.current_message_snapshot
                if event.type != "text":
                    continue
                self._buffer.append(event.text)
                now = time.monotonic()
                if sum(map(len, self._buffer)) >= FLUSH_CHARS or now - last_flush >= FLUSH_SECONDS:
                    await self._flush()
                    last_flush = now
            await self._flush()
            return await stream.get_final_message()

    async def _flush(self) -> None:
        if self._buffer:
            text = "".join(self._buffer)
            self._buffer.clear()
            await self._channel.emit(TextEvent(text=text))

    def _error(self, exc: anthropic.APIError) -> ErrorEvent:
        text = error_message(exc, self._env.get("ANTHROPIC_BASE_URL"))
        return ErrorEvent(message=redact(text, secrets_of(self._env)), retryable=is_retryable(exc))
