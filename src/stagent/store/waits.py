"""Waiting for a suspended run's hold to be released, on the store's change signal.

The other half of `stagent.store.lifecycle.suspend`/`release`: a waiter (an agent's permission
callback, a budget pause; later a workflow checkpoint) calls `until` with a probe that reads what
it waits on. The probe runs once per commit anywhere (in-process at once; across processes
through the store's watcher) -- never a sleep loop -- and at least every ``max_sleep`` seconds it
returns, should a wake-up be missed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from stagent.store.database import Store

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pending:
    """Not yet: look again after the next commit, or after ``max_sleep`` seconds at most."""

    max_sleep: float


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """The wait is over, with its value."""

    value: T


async def until(store: Store, probe: Callable[[], Done[T] | Pending]) -> T:
    """Call ``probe`` after every change until it returns `Done`; returns its value."""
    while True:
        version = store.changes.version
        outcome = probe()
        if isinstance(outcome, Done):
            return outcome.value
        await store.changes.wait_async(version, max(outcome.max_sleep, 0.0))
