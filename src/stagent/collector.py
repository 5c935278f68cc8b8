"""Python's cycle collector: paused around bulk work that allocates many objects at once, and
kept off what a long-running process loaded to start."""

from __future__ import annotations

import gc
from collections.abc import Generator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Generator[None]:
    """Pause the cyclic garbage collector for the block (if it was running), then run one
    young-generation collection and turn it back on.

    Scans and imports allocate some 10^5 objects in a burst: short-lived acyclic ones that
    reference counting frees at once, and long-lived ones (artifacts, caches). The automatic
    collections such a burst triggers walk an ever larger heap again and again (~7 % of an
    import's CPU, ~12 % of a cold 50-project scan); paused, one collection at the end handles
    them once. A collector that was off stays off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.collect(0)
            gc.enable()


def freeze_loaded() -> bool:
    """A process that froze its start-up (`stagent.cli.startup.ready`: ``worker``, ``serve``, a
    run) has loaded more since -- the durable engine (DBOS and its dependencies), the runtime
    adapters: freeze that too, so a full collection walks only what the work creates since.

    Each full collection walks every tracked object that is not frozen. Left unfrozen, what a
    worker's launch loads (~25k objects) is walked by every one of them, and a process that
    never froze (a library caller, a benchmark) walks its whole heap (~160k objects, ~0.1 s of
    CPU each, about one every 500 workflow steps). Does nothing in a process that did not
    freeze its start-up (tests: what they leave behind stays collectable) or whose collector
    is off. Returns whether it froze.
    """
    if gc.get_freeze_count() == 0 or not gc.isenabled():
        return False
    gc.freeze()
    return True
