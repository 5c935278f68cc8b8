"""Publishing events into the feed on PostgreSQL without a workspace-wide lock per write.

Readers tail the feed by ``seq`` and must never skip a lower ``seq`` that commits after a higher
one. On SQLite there is one writer at a time, so insertion order is commit order. On PostgreSQL
every writer -- a running agent's events (`stagent.store.run_writes`) and every other transaction
that appends an event (`stagent.store.events.append`) -- inserts into ``feed_outbox`` with no
shared lock, so any number of workers write and commit in parallel. After its commit the writer
*publishes*: one short transaction takes the feed lock, moves every committed outbox row into
``agent_events`` in insertion order (that is where ``seq`` is assigned), sends NOTIFY and commits.
Order is assigned only there, under the lock, so ``seq`` order is commit order; writers that wait
for the lock find their rows already moved by the holder and commit an empty transaction. Rows a
crashed writer committed but never published are moved by the next publish anywhere (workers
also publish on each heartbeat).
"""

from __future__ import annotations

from sqlalchemy import Connection

from stagent.store.events import FEED_LOCK_KEY
from stagent.store.watcher import CHANNEL

_COLUMNS = "task_id, run_id, subject_kind, subject_id, kind, payload, created_at"
PUBLISH_SQL = (
    "SET LOCAL synchronous_commit TO off;"
    f" SELECT pg_advisory_xact_lock({FEED_LOCK_KEY});"
    f" WITH moved AS (DELETE FROM feed_outbox RETURNING id, {_COLUMNS})"
    f" INSERT INTO agent_events ({_COLUMNS}) SELECT {_COLUMNS} FROM moved ORDER BY id;"
    f" NOTIFY {CHANNEL}"
)
"""One round trip, one implicit transaction (sent on an autocommit connection)."""


def publish(conn: Connection) -> None:
    """Move every committed outbox row into the feed, in order, and notify listeners.

    ``conn`` must be in autocommit mode on PostgreSQL: the statements above then run as one
    transaction that takes the feed lock -- the only place ``seq`` is assigned for outbox
    rows. It commits without waiting for its WAL flush (``synchronous_commit = off``), so the
    lock is held for well under a millisecond: the rows it moves were already durable in the
    outbox, and should the server crash before the move is flushed, the move is undone and
    done again by the next publish (a reader may then see those events a second time, under
    new ``seq``s; none is lost).
    """
    conn.exec_driver_sql(PUBLISH_SQL)
