"""Text an agent produced ends its run on every backend: PostgreSQL's text columns refuse the
NUL character, which an agent's final message or a crashed CLI's error can hold (a binary file
printed, a corrupted stream); the run must still end, with each NUL shown as U+FFFD, and the
event log keeps the text as it came. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from storetools import claimed_run

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

BINARY = "header\x00\x00body"
SHOWN = "header\ufffd\ufffdbody"


@pytest.mark.parametrize(
    ("target", "fields", "kept"),
    [
        (RunStatus.COMPLETED, {"result": BINARY}, ("result", SHOWN)),
        (RunStatus.FAILED, {"error": BINARY}, ("error", SHOWN)),
        (RunStatus.CANCELLED, {"reason": BINARY}, ("stop_reason", SHOWN)),
    ],
)
def test_a_run_whose_text_holds_a_nul_character_still_ends(
    store: Store, target: RunStatus, fields: dict[str, str], kept: tuple[str, str]
) -> None:
    claim = claimed_run(store, "cat a binary file")
    with store.write() as session:
        ended = lifecycle.finish(session, claim.run.id, target, attempt=1, **fields)
    assert ended is not None and ended.status is target
    with store.read() as session:
        run = run_repo.get(session, claim.run.id)
        task = task_repo.get(session, claim.task.id)
    column, text = kept
    assert getattr(run, column) == text
    assert task.status is TaskStatus(target.value)
    if target is RunStatus.COMPLETED:
        assert task.result == SHOWN
    if target is RunStatus.FAILED:
        assert task.error == SHOWN and run.stop_reason == SHOWN


def test_text_without_nul_characters_is_stored_as_it_came(store: Store) -> None:
    claim = claimed_run(store)
    text = "résumé ✓ 日本語 \t tabs and\nnew lines \\x00 (written out, not a NUL)"
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1, result=text)
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).result == text
        assert task_repo.get(session, claim.task.id).result == text


def test_the_log_keeps_an_events_nul_characters(store: Store) -> None:
    """Event payloads are JSON, which stores ``\\u0000`` on both backends: the live log shows
    the agent's output as it came, the NUL included."""
    claim = claimed_run(store)
    with store.write() as session:
        event_repo.append(session, claim.task.id, "text", {"text": BINARY}, run_id=claim.run.id)
    with store.read() as session:
        [logged] = [e for e in event_repo.for_run(session, claim.run.id) if e.kind == "text"]
    assert logged.payload == {"text": BINARY}


def test_an_id_or_name_holding_a_nul_byte_is_not_found_on_either_backend(store: Store) -> None:
    """PostgreSQL's driver refuses a NUL in any parameter (was a 500 for ``GET
    /api/v1/projects/a%00b``): a lookup finds nothing, as on SQLite; inside a write it is refused
    as input (422), never a database error."""
    claimed_run(store)
    with pytest.raises(NotFoundError), store.read() as session:
        project_repo.get(session, "a\x00b")
    with pytest.raises(NotFoundError), store.read() as session:
        task_repo.get(session, "tsk_\x00")
    with pytest.raises((NotFoundError, ValidationError)) as refused, store.write() as session:
        task_repo.get(session, "tsk_\x00")
    assert "NUL" in refused.value.message or "no task" in refused.value.message
    with store.read() as session:  # the store still answers
        assert len(task_repo.list_tasks(session)) == 1
