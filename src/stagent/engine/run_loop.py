"""The event loop task runs execute on: one thread of the worker's own, beside DBOS's loop.

DBOS dispatches every workflow it dequeues through its own event loop. A run's store calls are
synchronous, so a run executed on that loop holds up the dispatch of every other run (a poll
cycle grew to the poll interval plus the loop time of all runs in flight). The task workflow
hands its run to this loop instead and only awaits the outcome, so DBOS's loop stays free.

Guarantees kept across the hop:

- cancelling the awaiting workflow (DBOS stopping) cancels the run's coroutine here, as it did
  when the run executed on DBOS's loop (`asyncio.run_coroutine_threadsafe` chains both ways);
- context variables travel with the coroutine (the task is created in a copy of the caller's
  context);
- `stop` cancels what still runs, lets it clean up, shuts the loop's default executor down and
  joins the thread: nothing is left behind (the SQLite driver connection the thread keeps,
  `stagent.store.database.keeping_hot`, goes back to its pool). Stop DBOS first, so no
  workflow awaits a run on a closed loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from stagent.store.database import keeping_hot

log = logging.getLogger(__name__)

T = TypeVar("T")

STOP_SECONDS = 10.0
"""How long `RunLoop.stop` waits for cancelled runs to clean up before it gives up on them."""


class RunLoop:
    """An event loop on a daemon thread of its own, started and stopped with the worker."""

    def __init__(self, name: str = "stagent-runs") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.hops = 0
        """How many coroutines `run` handed over from another thread (each hop wakes this
        loop, and the caller's when the outcome goes back): a count tests and benchmarks read."""

    @property
    def running(self) -> bool:
        """Whether the loop accepts runs."""
        return self._loop is not None and self._loop.is_running()

    def start(self) -> None:
        """Start the loop's thread; returns once the loop runs. Starting twice does nothing."""
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(target=self._serve, args=(loop, ready), name=self._name)
        thread.daemon = True
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            with keeping_hot():  # steps' starts and admissions: no pool round each
                loop.run_forever()
        finally:
            loop.close()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on this loop and await its outcome from the caller's loop. Cancelling
        the caller cancels ``coro``. Called on this loop already, ``coro`` is awaited in place
        (no hop: no thread switch, no wake-up of either loop)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coro.close()
            raise RuntimeError("the run loop was used before it started or after it stopped")
        if _running_loop() is loop:
            return await coro
        self.hops += 1
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Cancel the runs still here, wait (up to ``timeout``) for their cleanup, then close the
        loop and join its thread. Stopping a loop that is not running does nothing."""
        loop, thread = self._loop, self._thread
        self._loop, self._thread = None, None
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(_wind_down(loop, timeout), loop)
        thread.join(timeout + 1.0)
        if thread.is_alive():
            log.warning("the run loop's thread did not stop within %g s", timeout)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _wind_down(loop: asyncio.AbstractEventLoop, timeout: float) -> None:
    """Cancel every task but this one and let them finish, then stop the loop."""
    try:
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*tasks, return_exceptions=True)
                await loop.shutdown_asyncgens()
                await loop.shutdown_default_executor()
    finally:
        loop.stop()


__all__ = ["RunLoop"]
