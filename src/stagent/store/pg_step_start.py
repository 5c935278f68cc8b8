"""A workflow step's start on PostgreSQL on a hot connection (`stagent.store.hot`: psycopg,
autocommit, no Session): two round trips where `Store.write` takes eight.

1. `begin`: ``BEGIN``, the step row locked (``FOR UPDATE``), then its workflow's state and its
   project's working directory -- three statements of one simple query (values bound by the
   client). The state is read by its own statement after the lock, so its snapshot is the
   lock's: a pause committed while this start waited for the row is seen (as `Store.write`'s
   start reads it).
2. `commit`: the task (inserted ``running``), its run, the step row's update -- every value a
   literal -- and the events held for the outbox, then ``COMMIT`` and the feed's publish, one
   round trip (`stagent.store.feed.commit_and_publish_hot`).

`stagent.engine.workflow_pg_start` uses these for the common start (a step with no task yet);
`start_new` builds the task's and run's writes. Any other start goes
the full way (`stagent.engine.workflow_steps.prepare_in`, in a `Store.write` transaction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, cast

import psycopg
from sqlalchemy import Dialect, Table, literal_column
from sqlalchemy.exc import DBAPIError

from stagent.domain.events import LogKind
from stagent.domain.run_options import RunOptions
from stagent.domain.tasks import Task
from stagent.store import events, feed, lifecycle
from stagent.store import tasks as task_repo
from stagent.store.budgets import fingerprint_sql
from stagent.store.events import OutboxRow
from stagent.store.hot import HotConnection
from stagent.store.lifecycle import Claim
from stagent.store.step_start import StepStart
from stagent.store.step_state import RUN_STATE, STEP_VALUES, RunState, StepValues
from stagent.store.tables import ProjectRow, WorkflowRow

_WORKFLOWS = cast(Table, WorkflowRow.__table__)
_PROJECTS = cast(Table, ProjectRow.__table__)
_STATE = RUN_STATE.add_columns(
    _PROJECTS.c.working_directory, literal_column(fingerprint_sql("postgresql"))
).select_from(_WORKFLOWS.outerjoin(_PROJECTS, _PROJECTS.c.id == _WORKFLOWS.c.project_id))
"""The workflow's state, its project's working directory and the budget policy's fingerprint
(`_READ`'s second statement; the run's admission then reads none of its own)."""

Literal = Callable[[Any], str]


@functools.cache
def _read(dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """``BEGIN``, the locked step row, then the state: one query text, and the fixed values of
    its parameters."""
    texts = ["BEGIN"]
    fixed: dict[str, Any] = {}
    blank = {"workflow_id": "", "run_number": 0, "key": ""}
    for statement in (STEP_VALUES, _STATE):
        expanded = statement.compile(dialect=dialect).construct_expanded_state(blank)
        texts.append(expanded.statement)
        fixed.update(expanded.parameters)
    for name in blank:
        fixed.pop(name, None)
    return "; ".join(texts), fixed


def begin(
    hot: HotConnection, dialect: Dialect, workflow_id: str, run_number: int, key: str
) -> StepStart | None:
    """Begin a transaction on ``hot`` and read the step's start (`_read`), one round trip;
    None, the transaction rolled back, if there is no such step row. On a driver error the
    transaction is rolled back and the error raised (as SQLAlchemy's)."""
    sql, fixed = _read(dialect)
    params = {**fixed, "workflow_id": workflow_id, "run_number": run_number, "key": key}
    driver = hot.driver
    try:
        with psycopg.ClientCursor(driver) as cursor:
            cursor.execute(cast(Any, sql), params)  # compiled here, not a literal string
            cursor.nextset()
            row = cursor.fetchone()
            cursor.nextset()
            state = cursor.fetchone()
    except psycopg.Error as exc:
        feed.roll_back(driver)
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, dialect=dialect) from exc
    if row is None:
        feed.roll_back(driver)
        return None
    found = StepValues(*row)
    if state is None:
        return StepStart(found, None, None)
    return StepStart(found, RunState(*state[:5]), state[5], str(state[6]))


def insert_statement(literal: Literal, table: str, values: dict[str, Any]) -> str:
    """One row's ``INSERT`` with every value a literal (`stagent.store.feed.literal_maker`)."""
    columns = ", ".join(values)
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join(map(literal, values.values()))})"


def step_update(
    literal: Literal, workflow_id: str, run_number: int, key: str, values: dict[str, Any]
) -> str:
    """`stagent.store.step_state.write_step`'s ``UPDATE`` with every value a literal."""
    sets = ", ".join(f"{name} = {literal(value)}" for name, value in values.items())
    where = (
        f"workflow_id = {literal(workflow_id)} AND run_number = {literal(run_number)}"
        f" AND step_key = {literal(key)}"
    )
    return f"UPDATE workflow_steps SET {sets} WHERE {where}"


def commit(
    hot: HotConnection, dialect: Dialect, statements: Sequence[str], held: Sequence[OutboxRow]
) -> None:
    """Send ``statements`` and the ``held`` events' insert into the outbox, commit and publish
    them, in one round trip (`stagent.store.feed.commit_and_publish_hot`); a driver error rolls
    back and comes out as SQLAlchemy's."""
    try:
        feed.commit_and_publish_hot(hot.driver, statements, held)
    except psycopg.Error as exc:
        sql = "; ".join(statements)
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=dialect) from exc


def start_new(
    hot: HotConnection,
    planned: tuple[Task, dict[str, Any]],
    options: RunOptions,
    *,
    reason: str,
    engine_id: str,
    noted: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> tuple[Claim, list[str], list[OutboxRow]]:
    """`stagent.store.lifecycle.start_new_on_driver` for this connection: the same rows, checks
    and events (`stagent.store.lifecycle.started`), returned for `commit` -- the task's
    ``INSERT`` (``running``) and its run's, every value a literal, and the events held for the
    outbox (``created``, the two ``status`` events, ``noted``) -- with the claim."""
    task, values = planned
    stored = values["options"] if options is task.options else None  # the task's own: shared
    start = lifecycle.started(task, options, reason, engine_id, stored)
    claim = start.claim
    literal = feed.connection_literal(hot.driver, hot.info)
    statements = [
        insert_statement(literal, "tasks", {**values, **start.task_values}),
        insert_statement(literal, "runs", start.run_values),
    ]
    held = events.outbox_rows(
        hot.secrets,
        task.id,
        [*start.logged, *noted],
        run_id=claim.run.id,
        unbound=[task_repo.created_event(task)],
    )
    return claim, statements, held


def literal_for(hot: HotConnection) -> Literal:
    """Values as literals for ``hot``'s connection (`stagent.store.feed.literal_maker`)."""
    return feed.connection_literal(hot.driver, hot.info)


def roll_back(hot: HotConnection) -> None:
    """End the transaction `begin` opened, writing nothing."""
    feed.roll_back(hot.driver)
