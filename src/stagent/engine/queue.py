"""The task queue as every process sees it: enqueue, cancel and look up runs.

DBOS is imported only when the queue is first used, so a command that only reads (``task list``,
``inbox``) never pays for it. The DBOS system tables are created (or migrated) the first time a
process opens the client, so runs can be queued before any worker ever ran.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from stagent.store.engine import is_sqlite
from stagent.store.lifecycle import workflow_id_for

if TYPE_CHECKING:
    from dbos import DBOSClient

    from stagent.store.database import Connection

WORKFLOW_PROTOCOL = "stagent-wf-6"
"""Bump on purpose when the recorded step order of a workflow changes. ``stagent-wf-6``: an
attempt of a step without a retry policy is no DBOS step at all (our own rows record its
outcome: `stagent.engine.workflow_inline`); ``stagent-wf-5``: a workflow step's run executes
inside its interpreter, one DBOS step per attempt. A worker of an older protocol neither
dequeues nor recovers a run of a newer one (DBOS matches the version); a worker adopts its
predecessors' runs at launch (`ADOPTED_PROTOCOLS`)."""
ADOPTED_PROTOCOLS = ("stagent-wf-4", "stagent-wf-5")
"""Protocols whose queued and pending workflows a worker of this one takes over at launch
(`stagent.engine.durable.adopt_older_runs`): their recordings replay unchanged, because the
workflows they name keep their old code under their old names (`RUN_WORKFLOW_WF4`,
`STEP_WORKFLOW_WF4`, `RUN_WORKFLOW_WF5`, `STEP_WORKFLOW_WF5`; a task run's workflow has no
recorded steps)."""
APP_NAME = "stagent"
TASK_QUEUE = "stagent-tasks"
RUN_TASK_WORKFLOW = "stagent.run_task"
WORKFLOW_QUEUE = "stagent-workflows"
"""Workflow interpreters wait on their steps' task runs, so they get a queue of their own (on the
task queue they would take the slots their own steps need)."""
RUN_WORKFLOW = "stagent.run_workflow.wf6"
"""The interpreter new workflow runs are enqueued on."""
RUN_WORKFLOW_WF5 = "stagent.run_workflow.wf5"
"""The ``stagent-wf-5`` interpreter (every attempt a DBOS step), kept for its runs."""
RUN_WORKFLOW_WF4 = "stagent.run_workflow"
"""The ``stagent-wf-4`` interpreter (each step's run a child workflow), kept for its runs."""
STEP_WORKFLOW = "stagent.workflow.step.wf6"
"""A step that runs beside others (a parallel branch, a swarm worker), as a child workflow."""
STEP_WORKFLOW_WF5 = "stagent.workflow.step.wf5"
STEP_WORKFLOW_WF4 = "stagent.workflow.step"


QUEUED: dict[str, threading.Event] = {}
"""Per queue name, an event this process sets once it committed an entry on that queue
(`queued`). A worker's queue thread here (`stagent.engine.queue_polls`) registers its queue's
event and, while its queue is idle, waits on it through DBOS's poll interval: a run queued in
the worker's own process (``serve``, ``workflow run``, the API) is claimed at once instead of
up to an interval (0.1 s) later. No worker here: nothing registered, nothing to wake."""


def queued(queue_name: str) -> None:
    """This process committed an entry on ``queue_name``: wake its idle queue thread here."""
    event = QUEUED.get(queue_name)
    if event is not None:
        event.set()


def dbos_url(database_url: str) -> str:
    """The system-database URL DBOS expects (the same database as ours)."""
    if is_sqlite(database_url):
        return database_url
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


class TaskQueueClient:
    """Enqueue and cancel task runs from any process (worker or not)."""

    def __init__(self, database_url: str, announce: Callable[[], None] | None = None) -> None:
        """``announce``: called after an enqueue that committed on DBOS's own connection, to
        wake idle workers (`stagent.store.database.Store.notify`; `enqueue_in` needs none: the
        caller's write announces itself)."""
        self._url = dbos_url(database_url)
        self._client: DBOSClient | None = None
        self._announce = announce

    def announce(self) -> None:
        """Wake idle workers: something was just put on a queue (see ``announce`` above)."""
        if self._announce is not None:
            self._announce()

    @property
    def opened(self) -> bool:
        """True once this process has opened the client (and imported DBOS)."""
        return self._client is not None

    @property
    def client(self) -> DBOSClient:
        """The DBOS client, opened (and the DBOS tables prepared) on first use."""
        if self._client is None:
            from dbos import DBOSClient

            client = DBOSClient(system_database_url=self._url, application_name=APP_NAME)
            # DBOSClient never migrates by itself; this is the routine ``DBOS.launch()`` runs (an
            # internal API, pinned with the dbos minor version and covered by tests).
            client._sys_db.run_migrations()  # pyright: ignore[reportPrivateUsage]
            self._client = client
        return self._client

    def prepare_schema(self) -> None:
        """Create or migrate DBOS's system tables now (they are also prepared on first use)."""
        _ = self.client

    def enqueue(self, task_id: str, run_number: int) -> str:
        """Put a task run on the queue; returns its workflow id."""
        from dbos import EnqueueOptions, WorkflowHandle

        options: EnqueueOptions = {
            "workflow_name": RUN_TASK_WORKFLOW,
            "queue_name": TASK_QUEUE,
            "workflow_id": workflow_id_for(task_id, run_number),
            "app_version": WORKFLOW_PROTOCOL,
        }
        handle: WorkflowHandle[str] = self.client.enqueue(options, task_id, run_number)
        self.announce()
        queued(TASK_QUEUE)
        return handle.get_workflow_id()

    def enqueue_in(self, conn: Connection, task_id: str, run_number: int) -> str:
        """Put a task run on the queue inside the caller's write transaction (our tables and
        DBOS's are one database): the run's record and its queue entry commit together, in one
        commit instead of two. ``conn``: the transaction's connection, with what it wrote so far
        flushed (`stagent.store.database.flushed_connection`). Open the client
        (`prepare_schema`) before the transaction starts: opening it may migrate DBOS's tables
        on another connection. Call `queued` (`TASK_QUEUE`) once the transaction committed."""
        from dbos import EnqueueOptions, WorkflowHandle

        options: EnqueueOptions = {
            "workflow_name": RUN_TASK_WORKFLOW,
            "queue_name": TASK_QUEUE,
            "workflow_id": workflow_id_for(task_id, run_number),
            "app_version": WORKFLOW_PROTOCOL,
        }
        handle: WorkflowHandle[str] = self.client.enqueue_in_transaction(
            conn, options, task_id, run_number
        )
        return handle.get_workflow_id()

    def enqueue_workflow(self, engine_id: str, workflow_id: str, run_number: int) -> str:
        """Put one execution of a workflow run on the workflow queue; returns its engine id."""
        from dbos import EnqueueOptions, WorkflowHandle

        options: EnqueueOptions = {
            "workflow_name": RUN_WORKFLOW,
            "queue_name": WORKFLOW_QUEUE,
            "workflow_id": engine_id,
            "app_version": WORKFLOW_PROTOCOL,
        }
        handle: WorkflowHandle[str] = self.client.enqueue(options, workflow_id, run_number)
        self.announce()
        queued(WORKFLOW_QUEUE)
        return handle.get_workflow_id()

    def cancel(self, workflow_id: str) -> None:
        """Cancel a run's workflow (it stops at its next step boundary)."""
        self.client.cancel_workflow(workflow_id)

    def status(self, workflow_id: str) -> str | None:
        """The DBOS status of a workflow, or None if DBOS has no such workflow."""
        from dbos._error import DBOSNonExistentWorkflowError

        try:
            return str(self.client.retrieve_workflow(workflow_id).get_status().status)
        except DBOSNonExistentWorkflowError:
            return None

    def statuses(self, workflow_ids: list[str]) -> dict[str, str]:
        """The DBOS status of each workflow DBOS knows, in one query (absent ids are missing)."""
        if not workflow_ids:
            return {}
        found = self.client.list_workflows(
            workflow_ids=workflow_ids, load_input=False, load_output=False
        )
        return {w.workflow_id: str(w.status) for w in found}

    def close(self) -> None:
        """Release the client's connections."""
        if self._client is not None:
            self._client.destroy()
            self._client = None
