"""A process-local change signal: writers ring it after commit, listeners wake at once.

Listeners in other processes cannot hear it; they fall back to a short poll of the change feed.
"""

from __future__ import annotations

import asyncio
import threading


class ChangeNotifier:
    """Wakes every waiter (threads and event loops alike) when something was committed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._condition = threading.Condition(self._lock)
        self._version = 0
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def version(self) -> int:
        """How many times the signal has rung."""
        return self._version

    def ring(self) -> None:
        """Signal that new rows were committed. Safe to call from any thread."""
        with self._condition:
            self._version += 1
            waiters = list(self._async_waiters)
            self._condition.notify_all()
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def wait(self, seen_version: int, timeout: float) -> int:
        """Block until the version moves past ``seen_version`` or ``timeout`` passes."""
        with self._condition:
            self._condition.wait_for(lambda: self._version != seen_version, timeout=timeout)
            return self._version

    async def wait_async(self, seen_version: int, timeout: float) -> int:
        """Await until the version moves past ``seen_version`` or ``timeout`` passes."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        entry = (loop, event)
        with self._lock:
            if self._version != seen_version:
                return self._version
            self._async_waiters.add(entry)
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that races with the event being set, leaving the cancelling caller waiting forever.
            async with asyncio.timeout(timeout):
                await event.wait()
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._async_waiters.discard(entry)
        return self._version
