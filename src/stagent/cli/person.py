"""Proof of the person for the CLI's deciding commands (see `stagent.governance.owner`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stagent.workspace import Workspace


def the_person(ws: Workspace) -> str:
    """The audit name of the person at this terminal, or a one-line refusal.

    Called by every command that decides: approve, deny, answer, rules and presets, budget set,
    clear and respond.
    """
    return ws.owner.prove_cli(ws.owner_token_path, ws.settings.token)
