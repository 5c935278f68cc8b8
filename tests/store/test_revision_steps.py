"""Going below each revision from 0013 on and back up to the newest, with a whole workspace in
the database (every table a person's data lives in), keeps everything the repositories read,
except what the revisions below never stored: going below 0022 forgets which workflow run a
firing started, below 0015 a workflow's stop code and its run-time steps' names, below 0014 the
workflows themselves. Back at the newest revision the workspace takes new writes and counts
them. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from migrationtools import (
    T0,
    at_head,
    down_to,
    expected_rollup,
    fill_workspace,
    rollup_rows,
    what_a_person_sees,
)

from stagent.store import ledger as ledger_repo
from stagent.store.database import Store
from stagent.store.ledger import NewLedgerEntry, SpendQuery
from stagent.store.migrate import alembic_config

Seen = dict[str, Any]


def chain() -> list[str]:
    """The revisions, newest first."""
    directory = ScriptDirectory.from_config(alembic_config(sa.create_engine("sqlite://")))
    return [revision.revision for revision in directory.walk_revisions()]


def parent(revision: str) -> str:
    newest_first = chain()
    return newest_first[newest_first.index(revision) + 1]


def firings_forget_their_workflow_run(seen: Seen) -> Seen:
    unlinked = replace_each(workflow_id=None, workflow_run=None, workflow_status=None)
    return {**seen, "firings": unlinked(seen["firings"])}


def workflows_forget_stop_codes_and_step_names(seen: Seen) -> Seen:
    flows = [
        replace(flow, stop_code=None, steps=tuple(replace_each(name=None)(flow.steps)))
        for flow in seen["workflows"]
    ]
    return {**seen, "workflows": flows}


def workflows_are_gone(seen: Seen) -> Seen:
    return {**seen, "workflows": []}


def replace_each(**fields: Any) -> Callable[[Any], list[Any]]:
    return lambda items: [replace(item, **fields) for item in items]


FORGOTTEN: dict[str, Callable[[Seen], Seen]] = {
    "0022": firings_forget_their_workflow_run,
    "0015": workflows_forget_stop_codes_and_step_names,
    "0014": workflows_are_gone,
}
"""What going below a revision forgets by design (its column or table did not exist)."""


def expected_after_going_below(revision: str, seen: Seen) -> Seen:
    """``seen`` without what the revisions from the newest down to ``revision`` forget."""
    newest_first = chain()
    for undone in newest_first[: newest_first.index(revision) + 1]:
        if undone in FORGOTTEN:
            seen = FORGOTTEN[undone](seen)
    return seen


STEPS = [r for r in reversed(chain()) if r >= "0013"]


@pytest.mark.parametrize("revision", STEPS)
def test_going_below_a_revision_and_back_keeps_the_workspace(
    engine: sa.Engine, revision: str
) -> None:
    with at_head(engine) as store:
        fill_workspace(store)
        before = what_a_person_sees(store)
    down_to(engine, parent(revision))
    with at_head(engine) as store:
        after = what_a_person_sees(store)
        expected = expected_after_going_below(revision, before)
        for part in expected:
            assert after[part] == expected[part], part
        assert_new_calls_count(store, before["spend"][0].total)


def assert_new_calls_count(store: Store, spent: int) -> None:
    """A call booked after the round trip reaches the budget totals and the usage summary."""
    with store.write() as session:
        ledger_repo.insert(
            session, NewLedgerEntry(runtime="codex", cost_micros=11, at=T0 + timedelta(hours=1))
        )
    with store.read() as session:
        [total] = ledger_repo.spend(session, [SpendQuery("overall", "", T0 - timedelta(days=1))])
        assert total.total == spent + 11
        assert rollup_rows(session) == expected_rollup(session)


def test_every_revision_a_step_goes_below_is_in_the_chain() -> None:
    """The steps above start at 0013 and end at the newest revision; what each forgets names a
    real revision (a renumbered one would silently skip its masking)."""
    newest_first = chain()
    assert STEPS[0] == "0013" and STEPS[-1] == newest_first[0]
    assert set(FORGOTTEN) <= set(STEPS)
    assert [r for r in reversed(newest_first) if r in STEPS] == STEPS
