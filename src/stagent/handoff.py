"""Handing a run to a running ``stagent serve``, so ``task run`` need not start the engine.

Queueing a run in this process means importing the ORM and the durable engine's client (DBOS,
most of a second of start-up) to write one row and one queue entry. When a ``serve`` on this
machine has a live worker on the same SQLite file, it recorded where its JSON API answers
(`Workspace.announce_api`); `hand_to_server` then asks that API to queue the run
(``POST /api/v1/tasks/{id}/run``, with the owner token), which commits the run and its queue
entry before it answers, as the in-process path does. The server's refusals (a task already
running, a runtime that is not ready, an unknown id) come back as the same `StagentError`
message and hint. Anything else (no server, PostgreSQL, a server that does not answer or does
not accept the token) returns False and the caller queues the run itself.

This module must not import SQLAlchemy or DBOS.
"""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, urlsplit

from stagent.domain.errors import StagentError
from stagent.locations import API_ADDRESS_KEY

OWNER_TOKEN_FILE = "owner.token"
"""The owner token's file in Stagent's home (as `Workspace.owner_token_path`)."""
CONNECT_SECONDS = 2.0
"""How long to wait for the server to accept the connection (it listens before it serves)."""
ANSWER_SECONDS = 120.0
"""How long the server may take to answer once asked (a runtime's readiness check included)."""
REFUSALS_TO_IGNORE = frozenset({401, 403})
"""The server does not accept this process's token: queue the run here instead."""


class ServerRefusedError(StagentError):
    """An error the server answered with, shown exactly as the server's own face shows it."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(str(body.get("error") or "the server refused"), hint=_hint(body))
        self.body = body
        self.code = str(body.get("code") or "error")  # pyright: ignore[reportAttributeAccessIssue]
        self.status = int(body.get("status") or 400)  # pyright: ignore[reportAttributeAccessIssue]

    def to_dict(self) -> dict[str, object]:
        """The server's JSON error, unchanged."""
        return dict(self.body)


def hand_to_server(
    database_url: str,
    home: Path,
    task_id: str,
    *,
    token: str | None,
    lease_seconds: float,
) -> bool:
    """Ask a live local ``serve`` to queue a run of ``task_id``; True once it has.

    False when no server can take it (the caller queues the run itself); raises
    `ServerRefusedError` when the server refused the run itself.
    """
    url = _server_address(database_url, lease_seconds)
    bearer = token or _owner_token(home)
    if url is None or bearer is None:
        return False
    address = urlsplit(url)
    if address.scheme != "http" or address.hostname is None:
        return False
    conn = http.client.HTTPConnection(address.hostname, address.port, timeout=CONNECT_SECONDS)
    try:
        try:
            conn.connect()
        except OSError:
            return False  # nothing reached the server: queue the run here
        if conn.sock is not None:
            conn.sock.settimeout(ANSWER_SECONDS)
        path = f"/api/v1/tasks/{quote(task_id, safe='')}/run"
        return _answer(conn, path, bearer, task_id)
    finally:
        conn.close()


def _answer(conn: http.client.HTTPConnection, path: str, bearer: str, task_id: str) -> bool:
    headers = {"Authorization": f"Bearer {bearer}", "Accept": "application/json"}
    try:
        conn.request("POST", path, body=b"", headers=headers)
        response = conn.getresponse()
        raw = response.read()
    except OSError as exc:  # asked, but no answer: it may have queued the run
        raise StagentError(
            f"the running server did not answer: {exc}",
            hint=f"see whether the run was queued with `stagent task show {task_id}`; "
            "the server's terminal says why",
        ) from None
    if 200 <= response.status < 300:
        return True
    body = _error_body(raw)
    if response.status in REFUSALS_TO_IGNORE or body is None:
        return False
    raise ServerRefusedError(body)


def _server_address(database_url: str, lease_seconds: float) -> str | None:
    from stagent.store.sqlite_reads import open_sqlite_reads

    reads = open_sqlite_reads(database_url)
    if reads is None:
        return None
    try:
        return reads.api_address(API_ADDRESS_KEY, lease_seconds, socket.gethostname())
    finally:
        reads.close()


def _owner_token(home: Path) -> str | None:
    try:
        return (home / OWNER_TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _error_body(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None
    return cast(dict[str, Any], body) if isinstance(body, dict) and "error" in body else None


def _hint(body: dict[str, Any]) -> str | None:
    hint = body.get("hint")
    return hint if isinstance(hint, str) else None
