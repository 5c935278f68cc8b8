"""Repository functions for worker leases (heartbeats)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from stagent.domain.ids import ensure_aware, utcnow
from stagent.store.tables import ExecutorRow


def register(session: Session, *, executor_id: str, kind: str, hostname: str, pid: int) -> None:
    """Record a live executor."""
    session.add(ExecutorRow(id=executor_id, kind=kind, hostname=hostname, pid=pid))


def heartbeat(session: Session, executor_id: str) -> bool:
    """Renew an executor's lease; False if its row is gone (a peer thought it dead)."""
    result = session.execute(
        update(ExecutorRow).where(ExecutorRow.id == executor_id).values(heartbeat_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


def remove(session: Session, executor_id: str) -> None:
    """Forget an executor (it stopped cleanly, or its runs were recovered)."""
    session.execute(delete(ExecutorRow).where(ExecutorRow.id == executor_id))


def find(session: Session, executor_id: str) -> tuple[str, int, datetime] | None:
    """``(hostname, pid, heartbeat_at)`` of a registered executor, if it is registered."""
    row = session.get(ExecutorRow, executor_id)
    return None if row is None else (row.hostname, row.pid, ensure_aware(row.heartbeat_at))


def all_executors(session: Session) -> list[tuple[str, str, int, datetime, str]]:
    """``(id, hostname, pid, heartbeat_at, kind)`` for every registered executor."""
    rows = session.scalars(select(ExecutorRow))
    return [(r.id, r.hostname, r.pid, ensure_aware(r.heartbeat_at), r.kind) for r in rows]


def live_worker_count(session: Session, lease: timedelta, kinds: frozenset[str]) -> int:
    """How many executors of these kinds have renewed their lease recently."""
    cutoff = utcnow() - lease
    rows = session.scalars(select(ExecutorRow.heartbeat_at).where(ExecutorRow.kind.in_(kinds)))
    return sum(1 for beat in rows if ensure_aware(beat) >= cutoff)
