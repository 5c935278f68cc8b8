"""What a worker's launch loads stays out of the garbage collector's full walks in a process
that froze its start-up, as ``stagent worker`` and ``serve`` do (`stagent.collector`)."""

from __future__ import annotations

import gc

from stagent.collector import freeze_loaded
from stagent.workspace import Workspace


def test_a_launch_in_a_process_that_froze_its_start_up_leaves_little_to_walk(
    workspace: Workspace,
) -> None:
    """Every full collection walks what is tracked and not frozen: the launch's objects
    (~28k with DBOS's import, ~7k without) were walked by each one, about every 500 steps."""
    gc.collect()
    gc.freeze()  # what `stagent.cli.startup.ready` does once the workspace is open
    try:
        workspace.start_worker("worker")
        assert len(gc.get_objects()) < 1000
    finally:
        gc.unfreeze()


def test_a_process_that_did_not_freeze_its_start_up_freezes_nothing() -> None:
    """Tests and library callers: what they leave behind stays collectable."""
    assert gc.get_freeze_count() == 0
    assert freeze_loaded() is False
    assert gc.get_freeze_count() == 0
