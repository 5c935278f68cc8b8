"""Executor leases: each worker process heartbeats; runs of a dead one are recovered.

The open-source DBOS build has no cross-process failover, so this module provides it (condition 8
of ``shared/reference/dbos-engine.md``): a process that launches DBOS registers an executor row
and renews it; any worker that finds an executor whose process is gone (same host, pid not
running) or whose lease expired hands that executor's pending runs back to the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from stagent.domain.ids import new_id, utcnow
from stagent.store import executors as executor_repo
from stagent.store.database import Store

log = logging.getLogger(__name__)


def new_executor_id(kind: str) -> str:
    """A unique executor id naming the host, the process kind and the pid."""
    return f"{socket.gethostname()}-{kind}-{os.getpid()}-{new_id('x')[2:]}"


def pid_is_running(pid: int) -> bool:
    """True if a process with this pid exists here and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def executor_alive(host: str, pid: int, beat: datetime, cutoff: datetime) -> bool:
    """Whether an executor row names a live process: not a process gone from this host, and
    its lease renewed since ``cutoff``."""
    gone_here = host == socket.gethostname() and not pid_is_running(pid)
    return not gone_here and beat >= cutoff


class ExecutorLease:
    """Registers this process as an executor, renews its lease and recovers dead peers."""

    def __init__(
        self,
        store: Store,
        executor_id: str,
        kind: str,
        lease_seconds: float,
        recover: Callable[[str], int],
        on_beat: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.executor_id = executor_id
        self.kind = kind
        self.lease = timedelta(seconds=lease_seconds)
        self._recover = recover
        self._on_beat = on_beat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Register, recover what dead executors left behind, and start heartbeating."""
        self._register()
        self.recover_dead()
        self._thread = threading.Thread(target=self._beat, name="stagent-lease", daemon=True)
        self._thread.start()

    def _register(self) -> None:
        with self.store.write() as session:
            executor_repo.register(
                session,
                executor_id=self.executor_id,
                kind=self.kind,
                hostname=socket.gethostname(),
                pid=os.getpid(),
            )

    def renew(self) -> bool:
        """Renew the lease; an executor whose row vanished (a peer took it for dead while this
        process was frozen or cut off) registers again, so its later runs stay recoverable.
        Returns False when it had to register again."""
        with self.store.write() as session:
            alive = executor_repo.heartbeat(session, self.executor_id)
        if not alive:
            log.warning(
                "executor %s was taken for dead by a peer (its runs were recovered elsewhere); "
                "registering again",
                self.executor_id,
            )
            self._register()
        return alive

    def stop(self) -> None:
        """Stop heartbeating and deregister (a clean exit leaves nothing to recover)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self.store.write() as session:
            executor_repo.remove(session, self.executor_id)

    def recover_dead(self) -> list[str]:
        """Recover the pending runs of every dead executor; returns their ids."""
        cutoff = utcnow() - self.lease
        with self.store.read() as session:
            rows = executor_repo.all_executors(session)
        dead = [
            executor_id
            for executor_id, host, pid, beat, _kind in rows
            if executor_id != self.executor_id and not executor_alive(host, pid, beat, cutoff)
        ]
        for executor_id in dead:
            count = self._recover(executor_id)
            log.warning("recovered %d run(s) from dead executor %s", count, executor_id)
            with self.store.write() as session:
                executor_repo.remove(session, executor_id)
        return dead

    def _beat(self) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.5)
        while not self._stop.wait(interval):
            try:
                self.renew()
                self.recover_dead()
                if self._on_beat is not None:
                    self._on_beat()
            except Exception:  # keep beating through transient database errors
                log.exception("executor heartbeat failed")
