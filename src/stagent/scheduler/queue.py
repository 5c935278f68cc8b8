"""Handing a firing to the durable engine from any process (DBOS is imported on use only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stagent.engine.queue import WORKFLOW_PROTOCOL

if TYPE_CHECKING:
    from stagent.engine.queue import TaskQueueClient

FIRING_QUEUE = "stagent-firings"
FIRE_WORKFLOW = "stagent.fire_schedule"


def enqueue_firing(queue: TaskQueueClient, firing_id: str) -> None:
    """Put a firing on the firing queue; its workflow id is the firing id, so handing one
    firing over twice (from two processes, or after a crash) starts it once. Idle workers are
    woken (`TaskQueueClient.announce`)."""
    from dbos import EnqueueOptions

    options: EnqueueOptions = {
        "workflow_name": FIRE_WORKFLOW,
        "queue_name": FIRING_QUEUE,
        "workflow_id": firing_id,
        "app_version": WORKFLOW_PROTOCOL,
    }
    queue.client.enqueue(options, firing_id)
    queue.announce()
