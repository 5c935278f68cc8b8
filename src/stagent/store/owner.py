"""The workspace owner's token fingerprint, kept in the ``settings`` table.

Only a SHA-256 of the token is stored. The first token enrolled owns the database; a CLI that
brings another token (its own fresh home, or a made-up ``STAGENT_TOKEN``) is not the person.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from stagent.store.tables import SettingRow

OWNER_KEY = "owner_token_sha256"


def fingerprint(token: str) -> str:
    """The SHA-256 of a token, as stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def owner_fingerprint(session: Session) -> str | None:
    """The enrolled owner's token fingerprint, if any."""
    row = session.get(SettingRow, OWNER_KEY)
    return str(row.value) if row is not None and row.value else None


def enrol_owner(session: Session, fingerprint: str) -> str:
    """Store ``fingerprint`` unless an owner is already enrolled; returns the enrolled one."""
    existing = owner_fingerprint(session)
    if existing is not None:
        return existing
    session.add(SettingRow(key=OWNER_KEY, value=fingerprint))
    session.flush()
    return fingerprint
