"""A session's connection for Core statements, remembered for its transaction.

`stagent.store.database` re-exports `flushed_connection`; the repositories that
`stagent.store.database` itself imports (`stagent.store.events`) take it from here.
"""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.orm import Session

_CONNECTION_INFO = "stagent_connection"


def flushed_connection(session: Session) -> Connection:
    """The session's connection for a Core statement (ours, or another library's in the same
    transaction: DBOS's enqueue), after flushing what the ORM still holds, so the statement sees
    every row this transaction wrote. Remembered for the session's transaction (a run's end
    asks for it for each of its statements; ``Session.connection`` costs more CPU than sending
    a primary-key ``UPDATE`` to SQLite's driver)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    remembered = session.info.get(_CONNECTION_INFO)
    if remembered is not None and remembered[0] is session.get_transaction():
        return remembered[1]
    conn = session.connection()
    session.info[_CONNECTION_INFO] = (session.get_transaction(), conn)
    return conn


__all__ = ["flushed_connection"]
