"""Whether a DBOS workflow is being executed by a live process right now.

A workflow step's run names the engine workflow executing it (an interpreter round, or a
branch's child workflow). When a newer round of the workflow (a resume right after a pause)
finds the step's run still in flight, it must take the run over only if that execution is gone
(its process died): a live one finishes the run, and taking it over would start the step's
agent again and pay its model requests twice (`stagent.engine.workflow_inline`). DBOS leaves a
dead process's workflow ``PENDING`` until a worker recovers it, so its executor's lease decides
(`stagent.engine.leases.executor_alive`), as `stagent.engine.leases.ExecutorLease.recover_dead`
judges it.
"""

from __future__ import annotations

from datetime import timedelta

from stagent.domain.ids import utcnow
from stagent.engine.leases import executor_alive
from stagent.store import executors as executor_repo
from stagent.store.database import Session

_worker: tuple[str, float] | None = None
"""This process's executor id and lease seconds, once it launched DBOS (`bind`)."""


def bind(executor_id: str, lease_seconds: float) -> None:
    """Record this worker's executor id and the lease its peers are judged by."""
    global _worker
    _worker = (executor_id, lease_seconds)


def alive(session: Session, workflow_id: str) -> bool:
    """Whether DBOS workflow ``workflow_id`` is ``PENDING`` under a live executor: this process,
    or a peer holding a fresh lease whose process is not gone from this host. False in a
    process that did not launch DBOS. ``session``: reads the executor's lease."""
    if _worker is None:
        return False
    owner = _pending_owner(workflow_id)
    if owner is None:
        return False
    own_id, lease_seconds = _worker
    if owner == own_id:
        return True
    found = executor_repo.find(session, owner)
    if found is None:
        return False
    host, pid, beat = found
    return executor_alive(host, pid, beat, utcnow() - timedelta(seconds=lease_seconds))


def _pending_owner(workflow_id: str) -> str | None:
    """The executor of a ``PENDING`` DBOS workflow (None if it is not pending, or unknown)."""
    from dbos._dbos import _get_dbos_instance  # pyright: ignore[reportPrivateUsage]

    sys_db = _get_dbos_instance()._sys_db  # pyright: ignore[reportPrivateUsage]
    status = sys_db.tables.workflow_status
    query = status.select().with_only_columns(status.c.status, status.c.executor_id)
    query = query.where(status.c.workflow_uuid == workflow_id)
    with sys_db.engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.status != "PENDING":
        return None
    return row.executor_id
