"""An event channel between a runtime's background work and the `AgentRun.events()` consumer.

Adapters do their work in a background task (SDK callbacks fire there too) and hand events to
the consumer through this channel. `emit(..., wait=True)` returns only once the consumer has
taken the event *and asked for the next one*, which with the engine means the event is already
persisted: a tool request is in the log before the gate is asked about it, and a usage event is
recorded before the adapter notes it as reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from stagent.domain.events import RuntimeEvent

_Item = tuple[RuntimeEvent | None, asyncio.Future[None] | None]


class EventChannel:
    """A one-consumer queue of runtime events with an optional delivery handshake."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the consumer has gone or the producer has finished."""
        return self._closed

    async def emit(self, event: RuntimeEvent, *, wait: bool = False) -> None:
        """Queue ``event``; with ``wait``, return once the consumer has processed it."""
        if self._closed:
            return
        if not wait:
            self._queue.put_nowait((event, None))
            return
        delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, delivered))
        await delivered

    def finish(self) -> None:
        """End the stream after the events already queued."""
        self._queue.put_nowait((None, None))

    async def stream(self) -> AsyncIterator[RuntimeEvent]:
        """Yield events until `finish`; releases every waiting producer when it stops."""
        delivered: asyncio.Future[None] | None = None
        try:
            while True:
                event, delivered = await self._queue.get()
                if event is None:
                    return
                yield event
                _settle(delivered)
        finally:
            self._closed = True
            _settle(delivered)
            while not self._queue.empty():
                _settle(self._queue.get_nowait()[1])


def _settle(delivered: asyncio.Future[None] | None) -> None:
    if delivered is not None and not delivered.done():
        delivered.set_result(None)
