"""Python's cycle collector paused around bulk work that allocates many objects at once."""

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
