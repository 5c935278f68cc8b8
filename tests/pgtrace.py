"""What a psycopg connection sends PostgreSQL, read from libpq's own protocol trace: the round
trips (one per ``ReadyForQuery`` the server answers) and, for each, the first word of every
statement in it. Counts that do not move with load, for tests that pin a hot path's cost."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


@contextmanager
def round_trips(driver: Any) -> Iterator[list[list[str]]]:
    """Trace ``driver`` (a psycopg connection) while inside; the list yielded is filled on exit
    with one entry per round trip: the first words of its statements, in order (a simple query
    of several statements gives several)."""
    found: list[list[str]] = []
    with tempfile.TemporaryFile("w+") as trace:
        pgconn: psycopg.pq.abc.PGconn = driver.pgconn
        pgconn.trace(trace.fileno())
        pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield found
        finally:
            pgconn.untrace()
        trace.seek(0)
        found.extend(_round_trips(trace.read()))


_MESSAGE = re.compile(r"^([FB])\t\d+\t(\w+)\t?", re.MULTILINE)
"""A message's header in libpq's trace (its body, a query's text too, may span lines)."""


def _round_trips(text: str) -> list[list[str]]:
    trips: list[list[str]] = []
    current: list[str] = []
    headers = list(_MESSAGE.finditer(text))
    for header, after in zip(headers, [*headers[1:], None], strict=True):
        side, message = header.group(1), header.group(2)
        body = text[header.end() : after.start() if after is not None else len(text)].strip()
        if side == "F" and message == "Query":
            current.extend(_words(body[1:-1]))
        elif side == "F" and message == "Parse":
            current.extend(_words(body.split('"', 3)[3]))
        elif side == "B" and message == "ReadyForQuery":
            trips.append(current)
            current = []
    return trips


_LITERAL = re.compile(r"'(?:[^']|'')*'")


def _words(sql: str) -> list[str]:
    bare = _LITERAL.sub("''", sql)  # a ';' inside a literal splits nothing
    return [part.split()[0].upper() for part in bare.split(";") if part.strip()]


def waits_for_a_lock(url: str) -> bool:
    """Whether a session of ``url``'s database (a test's own) waits for a lock now. Asked on a
    connection of its own, outside any transaction: inside one PostgreSQL answers from the
    snapshot of the activity it took at the transaction's first look."""
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(query).fetchone()
    return found is not None and found[0] > 0
