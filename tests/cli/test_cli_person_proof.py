"""Every deciding CLI command proves the person with the owner token; without it, nothing moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error
from test_cli_inbox import open_card
from typer.testing import CliRunner

from stagent.cli.app import app
from stagent.store.owner import fingerprint
from stagent.workspace import Workspace


@pytest.fixture
def ws(cli: Cli) -> Iterator[Workspace]:
    workspace = Workspace.temporary(cli.home).open()
    yield workspace
    workspace.close()


def _card_id(ws: Workspace) -> str:
    return open_card(ws, command="git push").id


DECISIONS = [
    ("approve", "{card}"),
    ("deny", "{card}"),
    ("answer", "{card}", "yes"),
    ("rules", "add", "Bash(npm test *)"),
    ("rules", "preset", "apply", "full-auto"),
    ("budget", "set", "--daily", "999999"),
    ("budget", "clear"),
]


@pytest.mark.parametrize("command", DECISIONS, ids=lambda c: " ".join(c[:2]))
def test_a_cli_without_the_owner_token_decides_nothing(
    cli: Cli, ws: Workspace, command: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    card = _card_id(ws)
    token_file = ws.owner_token_path
    token_file.write_text("someone-elses-token\n")  # what an agent with its own home would hold
    monkeypatch.delenv("STAGENT_TOKEN", raising=False)
    args = [part.format(card=card) for part in command]
    result = cli(*args)
    assert_one_line_error(result, contains="this decision needs the person")
    assert "owner.token is not this database's owner token" in result.stderr
    assert ws.approvals.get(card).status == "pending"
    assert ws.rules.list() == []
    assert not any(s.configured for s in ws.budgets.statuses())


def test_a_made_up_stagent_token_is_not_the_person(cli: Cli, ws: Workspace) -> None:
    card = _card_id(ws)
    ws.owner_token_path.unlink()
    runner = CliRunner(env={"STAGENT_TOKEN": "made-up-token-0123456789"})
    result = runner.invoke(app, ["--home", str(cli.home), "approve", card])
    assert result.exit_code == 1
    assert "STAGENT_TOKEN is not this database's owner token" in result.stderr
    assert ws.approvals.get(card).status == "pending"


def test_the_person_decides_and_the_audit_names_face_and_proof(cli: Cli, ws: Workspace) -> None:
    card = _card_id(ws)
    allowed = cli.json("approve", card)
    assert allowed["decided_by"] == "person (via CLI, owner token file)"
    assert ws.approvals.get(card).decided_by == "person (via CLI, owner token file)"


def test_another_home_on_the_same_database_is_refused(
    cli: Cli, ws: Workspace, tmp_path: Path
) -> None:
    card = _card_id(ws)
    other = Cli(home=tmp_path / "attacker-home", runner=CliRunner())
    url = ws.settings.resolved_database_url
    result = other("approve", card, global_args=("--database-url", url))
    assert_one_line_error(result, contains="is not this database's owner token")
    assert ws.approvals.get(card).status == "pending"
    # The other home got a token of its own; only the first owner's fingerprint is enrolled.
    theirs = (tmp_path / "attacker-home" / "owner.token").read_text().strip()
    assert not ws.owner.matches(theirs) and ws.owner.matches(ws.owner_token())
    assert fingerprint(theirs) != fingerprint(ws.owner_token())
