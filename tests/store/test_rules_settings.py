"""Saved permission rules, workspace settings, the owner's enrolment, worker leases and the
Monitor's read-only queries, as the store keeps them. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from storetools import claimed_run, new_task, queued_run

from stagent.domain.errors import NotFoundError
from stagent.domain.ids import utcnow
from stagent.domain.permissions import PermissionRule
from stagent.domain.runs import RunStatus
from stagent.store import activity, executors, lifecycle
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import inbox as inbox_repo
from stagent.store import owner as owner_repo
from stagent.store import projects as project_repo
from stagent.store import rules as rule_repo
from stagent.store import settings as settings_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.tables import ExecutorRow, PermissionRuleRow


def save(store: Store, text: str, effect: str = "allow", **kw: str | None) -> PermissionRule:
    rule = PermissionRule.from_text(text, effect, **kw)  # type: ignore[arg-type]
    with store.write() as session:
        return rule_repo.add(session, rule)


# ------------------------------------------------------------------------------- rules


def test_a_saved_rule_comes_back_parsed_with_its_id(store: Store) -> None:
    saved = save(store, "Bash(git status *)", "allow", source="preset:git")
    assert saved.id is not None and saved.id.startswith("rul_")
    with store.read() as session:
        loaded = rule_repo.get(session, saved.id)
    assert loaded.text == "Bash(git status *)" and loaded.effect == "allow"
    assert loaded.scope == "global" and loaded.source == "preset:git"
    assert loaded.tool == "Bash" and loaded.specifier == "git status *"


def test_rules_list_narrowest_scope_first_then_oldest(store: Store) -> None:
    g = save(store, "Read")
    p = save(store, "Edit", scope="project", scope_ref="prj_1")
    t = save(store, "Bash(ls)", scope="task", scope_ref="tsk_1")
    g2 = save(store, "Write", "deny")
    with store.read() as session:
        assert [r.id for r in rule_repo.list_rules(session)] == [t.id, p.id, g.id, g2.id]
        globals_ = rule_repo.list_rules(session, scope="global")
        assert [r.id for r in globals_] == [g.id, g2.id]
        assert [
            r.id for r in rule_repo.list_rules(session, scope="project", scope_ref="prj_1")
        ] == [p.id]
        assert rule_repo.list_rules(session, scope="project", scope_ref="prj_2") == []


def test_applicable_rules_are_global_plus_the_calls_task_and_project(store: Store) -> None:
    g = save(store, "Read")
    mine = save(store, "Bash(make *)", scope="task", scope_ref="tsk_mine")
    save(store, "Bash(rm *)", scope="task", scope_ref="tsk_other")
    proj = save(store, "Edit", scope="project", scope_ref="prj_a")
    save(store, "Edit", scope="project", scope_ref="prj_b")
    with store.read() as session:
        both = rule_repo.applicable(session, "tsk_mine", "prj_a")
        none = rule_repo.applicable(session, None, None)
    assert [r.id for r in both] == [mine.id, proj.id, g.id]
    assert [r.id for r in none] == [g.id]


def test_the_same_rule_from_two_sources_is_two_rows_and_each_is_found(store: Store) -> None:
    user = save(store, "Bash(npm test)", source="user")
    preset = save(store, "Bash(npm test)", source="preset:node")
    with store.read() as session:
        assert len(rule_repo.list_rules(session)) == 2
        assert rule_repo.find_same(session, PermissionRule.from_text("Bash(npm test)")) == user
        found = rule_repo.find_same(
            session, PermissionRule.from_text("Bash(npm test)", source="preset:node")
        )
        assert found == preset
        other = PermissionRule.from_text("Bash(npm test)", "deny")
        assert rule_repo.find_same(session, other) is None
        scoped = PermissionRule.from_text("Bash(npm test)", scope="task", scope_ref="tsk_1")
        assert rule_repo.find_same(session, scoped) is None


def test_removing_a_preset_removes_only_its_rows_at_that_scope(store: Store) -> None:
    save(store, "Bash(git *)", source="preset:git")
    save(store, "Bash(git log)", source="preset:git")
    save(store, "Bash(git *)", source="preset:git", scope="project", scope_ref="prj_1")
    user = save(store, "Bash(git *)", source="user")
    with store.write() as session:
        assert rule_repo.remove_source(session, "preset:git", "global", None) == 2
    with store.read() as session:
        left = rule_repo.list_rules(session)
    assert {(r.source, r.scope) for r in left} == {("preset:git", "project"), ("user", "global")}
    assert user.id in {r.id for r in left}
    with store.write() as session:
        assert rule_repo.remove_source(session, "preset:git", "project", "prj_1") == 1
        assert rule_repo.remove_source(session, "preset:git", "project", "prj_1") == 0


def test_removing_a_rule_returns_it_and_a_second_removal_is_not_found(store: Store) -> None:
    saved = save(store, "WebFetch(domain:example.com)", "deny")
    assert saved.id is not None
    with store.write() as session:
        removed = rule_repo.remove(session, saved.id)
    assert removed.text == "WebFetch(domain:example.com)" and removed.effect == "deny"
    with (
        pytest.raises(NotFoundError, match=saved.id) as caught,
        store.write() as session,
    ):
        rule_repo.remove(session, saved.id)
    assert "rules list" in (caught.value.hint or "")
    with store.read() as session, pytest.raises(NotFoundError):
        rule_repo.get(session, saved.id)


def test_a_stored_rule_that_no_longer_parses_is_skipped_never_applied(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    good = save(store, "Read")
    bad = save(store, "Bash(ls)")
    with store.write() as session:  # saved under an older parser
        session.execute(
            update(PermissionRuleRow).where(PermissionRuleRow.id == bad.id).values(rule="Bash(")
        )
    with caplog.at_level(logging.WARNING), store.read() as session:
        listed = rule_repo.list_rules(session)
        applied = rule_repo.applicable(session, None, None)
    assert [r.id for r in listed] == [good.id] and [r.id for r in applied] == [good.id]
    assert any(bad.id in record.getMessage() for record in caplog.records)


# ------------------------------------------------------------------------------- settings, owner


def test_a_setting_is_stored_replaced_and_read_with_a_default(store: Store) -> None:
    with store.read() as session:
        assert settings_repo.get(session, "permission_mode", "claude-code") == "claude-code"
        assert settings_repo.get(session, "missing") is None
    with store.write() as session:
        settings_repo.put(session, "permission_mode", "ask")
    with store.write() as session:
        settings_repo.put(session, "permission_mode", {"mode": "ask", "since": 2})
        settings_repo.put(session, "scan_history_keep", 10)
    with store.read() as session:
        assert settings_repo.get(session, "permission_mode") == {"mode": "ask", "since": 2}
        assert settings_repo.get(session, "scan_history_keep", 50) == 10


def test_the_first_owner_enrolled_keeps_the_database(store: Store) -> None:
    first = owner_repo.fingerprint("token-one")
    assert first != owner_repo.fingerprint("token-two") and len(first) == 64
    assert "token-one" not in first
    with store.read() as session:
        assert owner_repo.owner_fingerprint(session) is None
    with store.write() as session:
        assert owner_repo.enrol_owner(session, first) == first
    with store.write() as session:
        assert owner_repo.enrol_owner(session, owner_repo.fingerprint("token-two")) == first
    with store.read() as session:
        assert owner_repo.owner_fingerprint(session) == first


# ------------------------------------------------------------------------------- executors


def test_an_executor_registers_beats_and_is_removed(store: Store) -> None:
    with store.write() as session:
        executors.register(session, executor_id="exe_1", kind="worker", hostname="h", pid=42)
    with store.read() as session:
        [(ident, host, pid, beat, kind)] = executors.all_executors(session)
    assert (ident, host, pid, kind) == ("exe_1", "h", 42, "worker")
    assert beat.utcoffset() is not None
    time.sleep(0.002)
    with store.write() as session:
        assert executors.heartbeat(session, "exe_1") is True
    with store.read() as session:
        assert executors.all_executors(session)[0][3] > beat
    with store.write() as session:
        executors.remove(session, "exe_1")
        assert executors.heartbeat(session, "exe_1") is False  # a peer thought it dead


def test_live_workers_are_those_of_the_kinds_asked_that_beat_recently(store: Store) -> None:
    with store.write() as session:
        for ident, kind in (("a", "worker"), ("b", "worker"), ("c", "serve"), ("d", "cli")):
            executors.register(session, executor_id=ident, kind=kind, hostname="h", pid=1)
    with store.write() as session:
        session.execute(
            update(ExecutorRow)
            .where(ExecutorRow.id == "b")
            .values(heartbeat_at=utcnow() - timedelta(minutes=10))
        )
    lease = timedelta(seconds=30)
    with store.read() as session:
        assert executors.live_worker_count(session, lease, frozenset({"worker"})) == 1
        assert executors.live_worker_count(session, lease, frozenset({"worker", "serve"})) == 2
        assert executors.live_worker_count(session, timedelta(hours=1), frozenset({"worker"})) == 2


# ------------------------------------------------------------------------------- activity


def test_running_lists_running_tasks_with_their_project_longest_first(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="site")
    first = claimed_run(store, "first")
    with store.write() as session:
        task_repo.update_fields(session, first.task.id, {"project_id": project.id})
    time.sleep(0.002)
    second = claimed_run(store, "second")
    queued_run(store, "queued only")
    with store.read() as session:
        running = activity.running(session)
    assert [(a.id, a.project) for a in running] == [(first.task.id, "site"), (second.task.id, None)]
    assert running[0].runtime == "scripted" and running[0].started_at is not None


def test_finished_counts_runs_ended_since_a_time_by_status(store: Store) -> None:
    since = utcnow() - timedelta(seconds=1)
    for ending in (RunStatus.COMPLETED, RunStatus.COMPLETED, RunStatus.FAILED):
        claim = claimed_run(store)
        with store.write() as session:
            lifecycle.finish(session, claim.run.id, ending, attempt=1, error="e")
    with store.read() as session:
        assert activity.finished_by_status(session, since) == {"completed": 2, "failed": 1}
        assert activity.finished_by_status(session, utcnow() + timedelta(minutes=1)) == {}
        assert activity.completed_runs(session) == 2


def test_events_per_hour_buckets_by_utc_hour(store: Store) -> None:
    task_id = new_task(store)
    for _ in range(3):
        with store.write() as session:
            event_repo.append(session, task_id, "text", {"text": "x"})
    now = datetime.now(UTC)
    with store.read() as session:
        hours = activity.events_per_hour(session, now - timedelta(hours=1))
    assert sum(hours.values()) == 4
    assert set(hours) <= {
        now.strftime("%Y-%m-%d %H"),
        (now - timedelta(hours=1)).strftime("%Y-%m-%d %H"),
    }


def test_task_labels_include_deleted_tasks(store: Store) -> None:
    a = new_task(store, "alpha")
    b = new_task(store, "beta")
    with store.write() as session:
        task_repo.delete(session, b)
    with store.read() as session:
        assert activity.task_labels(session, [a, b, "tsk_x"]) == {
            a: ("alpha", "scripted"),
            b: ("beta", "scripted"),
        }
        assert activity.task_labels(session, []) == {}


def test_run_spans_cover_runs_live_in_the_window(store: Store) -> None:
    old = claimed_run(store, "old")
    with store.write() as session:
        lifecycle.finish(session, old.run.id, RunStatus.COMPLETED, attempt=1)
    since = utcnow() + timedelta(milliseconds=5)
    time.sleep(0.01)
    live = claimed_run(store, "live")
    queued_run(store, "never started")
    with store.read() as session:
        spans = activity.run_spans(session, since)
        everything = activity.run_spans(session, since - timedelta(hours=1))
    assert [(end, status) for _, end, status, _ in spans] == [(None, "running")]
    assert spans[0][0].utcoffset() is not None
    assert len(everything) == 2
    del live


def test_asked_since_counts_cards_and_items_created_in_the_window(store: Store) -> None:
    task_id = new_task(store)
    since = utcnow() - timedelta(seconds=1)
    with store.write() as session:
        approval_repo.create(
            session,
            task_id=task_id,
            project_id=None,
            runtime="scripted",
            profile=None,
            tool="Bash",
            tool_input={},
            kind="permission",
            risk="low",
            suggested_rule=None,
            why_asked="?",
            expires_at=None,
        )
        inbox_repo.create(session, kind="message", title="hi")
    with store.read() as session:
        asked = activity.asked_since(session, since)
        later = activity.asked_since(session, utcnow() + timedelta(minutes=1))
    assert len(asked) == 2 and all(a.utcoffset() is not None for a in asked)
    assert later == []


def test_a_workspace_is_empty_until_it_has_a_task_or_project(store: Store) -> None:
    with store.read() as session:
        assert activity.is_empty(session)
        assert activity.workflows_running(session) == 0
    task_id = new_task(store)
    with store.read() as session:
        assert not activity.is_empty(session)
    with store.write() as session:
        task_repo.delete(session, task_id)
    with store.read() as session:
        assert activity.is_empty(session)  # a deleted task does not count
    with store.write() as session:
        project_repo.create(session, name="p")
    with store.read() as session:
        assert not activity.is_empty(session)
