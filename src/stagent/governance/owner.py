"""Proof of the person: who may approve, deny, answer, change rules, presets and budgets.

The web proves the person with the owner token (Bearer header or the owner cookie); the CLI with
the token it can read from ``owner.token`` in Stagent's home (or ``STAGENT_TOKEN``). An agent's
sandbox hides that file, so an agent running ``stagent approve`` has no proof. The database keeps
the fingerprint of the first owner token, so a CLI pointed at the same database from another home
(with a token of its own) is refused too.

The audit names the face and the proof: ``person (via CLI, owner token file)``.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from stagent.domain.approvals import Channel
from stagent.domain.errors import AuthError
from stagent.store import owner as owner_repo
from stagent.store.database import Store
from stagent.store.owner import fingerprint


class NotThePersonError(AuthError):
    """A decision made without the person's token."""

    code = "owner_required"


def decided_by(channel: Channel, proof: str) -> str:
    """How the audit trail names a person deciding through ``channel`` with ``proof``."""
    return f"person (via {channel}, {proof})"


class OwnerCheck:
    """Enrols the workspace's owner token and checks presented ones against it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def matches(self, token: str | None) -> bool:
        """True when ``token`` is the enrolled owner's (constant-time)."""
        if not token:
            return False
        with self._store.read() as session:
            enrolled = owner_repo.owner_fingerprint(session)
        return enrolled is not None and hmac.compare_digest(enrolled, fingerprint(token))

    def prove_cli(self, token_file: Path, env_token: str | None) -> str:
        """The audit name of the person at this CLI, or `NotThePersonError`.

        The token comes from ``token_file`` (Stagent's home, hidden from agents), else from
        ``STAGENT_TOKEN``.
        """
        tried: list[str] = []
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            tried.append(f"{token_file} cannot be read")
        else:
            if self.matches(token):
                return decided_by("CLI", "owner token file")
            tried.append(f"{token_file} is not this database's owner token")
        if env_token:
            if self.matches(env_token):
                return decided_by("CLI", "STAGENT_TOKEN")
            tried.append("STAGENT_TOKEN is not this database's owner token")
        raise NotThePersonError(
            "this decision needs the person: " + "; ".join(tried),
            hint="run it yourself, outside any agent, with the Stagent home that holds "
            "owner.token (or set STAGENT_TOKEN to that token); agents cannot decide",
        )
