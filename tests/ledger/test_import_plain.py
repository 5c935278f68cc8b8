"""``stagent ledger import`` on a SQLite file at the newest migration books through a plain
``sqlite3`` connection (`stagent.store.sqlite_imports`), without building a workspace: the rows,
their rollup sums, spend totals and read positions must be what the workspace's import writes
for the same logs, and the person's price overrides must apply."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tests.ledger.logtools import (
    claude_assistant,
    claude_transcript,
    claude_user,
    codex_meta,
    codex_rollout,
    codex_tokens,
    codex_turn,
)
from typer.testing import CliRunner

from stagent.cli.app import app
from stagent.locations import default_database_url
from stagent.store.sqlite_imports import open_sqlite_imports
from stagent.workspace import Workspace

SESSION = "0199a7c2-5b1e-7d30-9c4a-1f2e3d4c5b6a"


@pytest.fixture(autouse=True)
def _raise_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGENT_RAISE_ERRORS", "1")


def prepared(home: Path, site: Path) -> None:
    """A migrated home with its owner enrolled and a project owning directory ``site``."""
    ws = Workspace.temporary(home).open()
    try:
        ws.projects.create("site", directory=str(site))
    finally:
        ws.close()


def cli_import(home: Path, which: str, path: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(
        app, ["--home", str(home), "ledger", "import", which, "--path", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def workspace_import(home: Path, which: str, path: Path) -> list[dict[str, Any]]:
    ws = Workspace.temporary(home).open()
    try:
        return [ws.ledger.run_import(p).as_json() for p in ws.ledger.import_plans(which, path)]
    finally:
        ws.close()


def stored(home: Path) -> dict[str, Any]:
    """Everything an import writes, without row ids and times of writing."""
    conn = sqlite3.connect(home / "stagent.sqlite")
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(usage_ledger)") if r[1] != "id"]
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM usage_ledger").fetchall()
        raw = columns.index("raw")
        projects = dict(conn.execute("SELECT id, name FROM projects").fetchall())
        project = columns.index("project_id")
        ledger = sorted(
            repr(
                tuple(
                    json.loads(v) if n == raw else projects.get(v) if n == project else v
                    for n, v in enumerate(row)
                )
            )
            for row in rows
        )  # raw compared as data; projects by name (ids differ per home)
        return {
            "ledger": ledger,
            "rollup": sorted(
                repr(tuple(projects.get(v, v) if isinstance(v, str) else v for v in row))
                for row in conn.execute("SELECT * FROM usage_rollup")
            ),
            "spend": sorted(conn.execute("SELECT * FROM spend_totals").fetchall()),
            "positions": sorted(
                (Path(path).name, source, offset, head, lines, json.loads(state))
                for path, source, offset, head, lines, state in conn.execute(
                    'SELECT path, source, "offset", head, lines, state FROM ledger_import_files'
                )
            ),
            "triggers": sorted(
                conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ),
        }
    finally:
        conn.close()


def test_the_command_books_without_a_workspace_what_the_workspace_books(tmp_path: Path) -> None:
    plain, through_store = tmp_path / "plain", tmp_path / "store"
    site = tmp_path / "site"
    site.mkdir()
    for home in (plain, through_store):
        prepared(home, site)
    assert open_sqlite_imports(default_database_url(plain)) is not None  # the plain path applies
    claude, codex = tmp_path / "claude", tmp_path / "codex"
    cwd = str(site / "src")  # inside the project
    placeholder = claude_assistant("msg_A", "req_A", output_tokens=1, cache_1h=4000, cwd=cwd)
    transcript = claude_transcript(
        claude,
        [
            claude_user(),
            placeholder,
            claude_assistant("msg_B", "req_B", model="claude-opus-9", input_tokens=50, cwd=cwd),
            claude_assistant("msg_C", "req_C", cwd="/elsewhere", timestamp="2026-11-21T10:00:00Z"),
            claude_assistant("msg_C", "req_C", cwd="/elsewhere", timestamp="2026-11-21T10:00:00Z"),
            '{"type": "assistant", "message": {"usage": ',
        ],
    )
    codex_rollout(
        codex,
        SESSION,
        [codex_meta(SESSION, cwd=cwd), codex_turn("gpt-5"), codex_tokens((10_000, 4_000, 200, 0))],
    )

    first = cli_import(plain, "all", tmp_path)
    assert first == workspace_import(through_store, "all", tmp_path)
    assert [(r["calls_added"], r["malformed_lines"]) for r in first] == [(3, 1), (1, 0)]
    assert stored(plain) == stored(through_store)

    with transcript.open("a") as handle:  # the streamed call's final copy: it replaces the first
        handle.write(claude_assistant("msg_A", "req_A", output_tokens=250, cache_1h=4000, cwd=cwd))
        handle.write("\n")
        handle.write(claude_assistant("msg_D", "req_D", timestamp="2026-11-22T10:00:00Z") + "\n")
    again = cli_import(plain, "claude-code", claude)
    assert again == workspace_import(through_store, "claude-code", claude)
    assert (again[0]["calls_added"], again[0]["calls_replaced"]) == (1, 1)
    assert stored(plain) == stored(through_store)
    assert cli_import(plain, "claude-code", claude)[0]["bytes_read"] == 0  # nothing new


def test_batches_held_in_one_transaction_book_what_the_workspace_books(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain connection keeps its bulk-insert set-up (staging table, insert triggers
    dropped) from a transaction's first batch to its commit (`sqlite_imports.Held`): every
    batch's rows still reach the rollup and spend totals, a fuller copy booked in a later batch
    of the same transaction replaces the first through the update triggers, and the triggers
    are back once it commits."""
    from stagent.ledger.importers import service

    plain, through_store = tmp_path / "plain", tmp_path / "store"
    site = tmp_path / "site"
    site.mkdir()
    for home in (plain, through_store):
        prepared(home, site)
    claude = tmp_path / "claude"
    cwd = str(site / "src")
    for n in range(4):  # a batch per file, all in one transaction of the plain connection
        lines = [
            claude_assistant(
                f"msg_{n}", f"req_{n}", timestamp=f"2026-11-2{n}T1{n}:00:00Z", cwd=cwd
            ),
            claude_assistant("msg_S", "req_S", output_tokens=10 + n, cache_1h=100, cwd=cwd),
        ]
        claude_transcript(claude, [claude_user(), *lines], name=f"session-{n}")
    monkeypatch.setattr(service, "BATCH_CALLS", 1)

    (report,) = cli_import(plain, "claude-code", claude)
    assert (report["calls_added"], report["calls_replaced"]) == (5, 3)
    assert [report] == workspace_import(through_store, "claude-code", claude)
    assert stored(plain) == stored(through_store)
    assert len(stored(plain)["triggers"]) == 6


def test_the_command_prices_with_the_persons_overrides(tmp_path: Path) -> None:
    home = tmp_path / "home"
    prepared(home, tmp_path)
    (home / "prices.yaml").write_text(
        "models:\n  - id: claude-opus-9\n    provider: anthropic\n"
        "    prices: [{input: 20, output: 100, source: my guess until it is published}]\n"
    )
    claude = tmp_path / "claude"
    claude_transcript(claude, [claude_assistant("msg_B", "req_B", model="claude-opus-9")])

    (report,) = cli_import(home, "claude-code", claude)

    assert report["unpriced_models"] == {}
    conn = sqlite3.connect(home / "stagent.sqlite")
    try:
        ((cost, source),) = conn.execute("SELECT cost_micros, cost_source FROM usage_ledger")
    finally:
        conn.close()
    assert (cost, source) == (3 * 20 + 120 * 100, "computed")


@pytest.mark.parametrize("encoder", ["orjson", "msgspec"])
def test_a_call_is_stored_as_the_same_text_whichever_json_encoder_renders_it(
    monkeypatch: pytest.MonkeyPatch, encoder: str
) -> None:
    """A large import renders rows through orjson, a re-run through msgspec: the stored text
    of a call must not depend on which (`sqlite_imports.render_row`)."""
    import msgspec
    import orjson

    from stagent.store import sqlite_imports

    chosen = orjson.dumps if encoder == "orjson" else msgspec.json.encode
    stamp = partial(sqlite_imports.fast_stamp, encode=msgspec.json.encode)
    monkeypatch.setattr(sqlite_imports, "_RENDERERS", [(chosen, stamp)])
    raw = {"model": "claude-é", "request_id": 'req_"x"\\\x01\u2028', "tier_above": 200_000}
    at = datetime(2026, 11, 20, 9, 30, 1, 250_000, tzinfo=UTC)
    row = (None, "claude", "anthropic", "claude-é", 1, 2, 0, 0, 0, 0, 9, "computed", "v1",
           None, "import:claude-code", "claude-code:m1", "s1", "/w", raw, at)  # fmt: skip

    rendered = sqlite_imports.render_row(row)

    assert rendered[:-2] == row[:-2]
    assert rendered[-2] == (
        '{"model":"claude-é","request_id":"req_\\"x\\"\\\\\\u0001\u2028","tier_above":200000}'
    )
    assert rendered[-1] == "2026-11-20 09:30:01.250000"


def test_a_rendered_time_is_sqlite_stamp_text_to_the_microsecond() -> None:
    """Rows render their time through msgspec's RFC 3339 text (`fast_stamp`): the stored text
    is `sqlite_stamp`'s for every instant (no fraction, one microsecond, years before 1000,
    other zones, naive), so times sort and compare as before."""
    import msgspec

    from stagent.store import sqlite_imports

    rng = random.Random(12)
    base = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)
    moments = [
        base, base.replace(microsecond=1), base.replace(microsecond=999_999),
        datetime(1, 1, 1, tzinfo=UTC), datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        base.astimezone(timezone(timedelta(hours=5, minutes=30))), base.replace(tzinfo=None),
        *(base + timedelta(microseconds=rng.randrange(10**14)) for _ in range(2000)),
        *(base.replace(microsecond=0) + timedelta(seconds=rng.randrange(10**9)) for _ in range(99)),
    ]  # fmt: skip
    for moment in moments:
        fast = sqlite_imports.fast_stamp(moment, msgspec.json.encode)
        assert fast == sqlite_imports.sqlite_stamp(moment), moment


def test_none_binds_as_null_on_every_connection_after_an_import_binds_it_directly(
    tmp_path: Path,
) -> None:
    """`bind_none_directly` (what booking calls) registers an adapter for None: every
    connection of the process still stores None as NULL and reads it back as None."""
    from stagent.store import sqlite_imports

    sqlite_imports.bind_none_directly()
    sqlite_imports.bind_none_directly()  # once is enough; twice changes nothing
    conn = sqlite3.connect(tmp_path / "other.sqlite")
    try:
        conn.execute("CREATE TABLE t (a, b)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), (None, None)])
        rows = conn.execute("SELECT a, b, a IS NULL, typeof(b) FROM t ORDER BY rowid").fetchall()
    finally:
        conn.close()
    assert rows == [(None, 1, 1, "integer"), (None, None, 1, "null")]


def test_a_command_that_fails_between_commits_loses_nothing_committed_and_a_rerun_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain connection holds several batches per transaction (`COMMIT_CALLS`): a command
    that stops part-way keeps every committed batch with its read positions (and nothing of the
    uncommitted ones), and running it again books what one uninterrupted import books."""
    from stagent.ledger.importers import service
    from stagent.store import sqlite_imports

    broken, whole = tmp_path / "broken", tmp_path / "whole"
    for home in (broken, whole):
        prepared(home, tmp_path)
    claude = tmp_path / "claude"
    for n in range(9):  # one call per file; a batch per file
        when = f"2026-11-2{n}T10:00:00Z"
        call = claude_assistant(f"msg_{n}", f"req_{n}", output_tokens=10 + n, timestamp=when)
        claude_transcript(claude, [claude_user(), call], name=f"session-{n}")
    monkeypatch.setattr(service, "BATCH_CALLS", 1)
    monkeypatch.setattr(sqlite_imports, "COMMIT_CALLS", 2)
    booked = sqlite_imports.book_rendered
    batches: list[int] = []

    def fails_on_the_sixth(conn: sqlite3.Connection, rows: Any, *held: Any) -> Any:
        batches.append(len(rows))
        if len(batches) == 6:
            raise OSError("the disk went away")
        return booked(conn, rows, *held)

    monkeypatch.setattr(sqlite_imports, "book_rendered", fails_on_the_sixth)
    result = CliRunner().invoke(
        app, ["--home", str(broken), "ledger", "import", "claude-code", "--path", str(claude)]
    )
    assert result.exit_code != 0
    monkeypatch.setattr(sqlite_imports, "book_rendered", booked)

    after = stored(broken)
    assert len(after["ledger"]) == 4  # batches 1-4 committed; the 5th was held, then rolled back
    assert [name for name, *_ in after["positions"]] == [f"session-{n}.jsonl" for n in range(4)]
    assert after["triggers"] == stored(whole)["triggers"]  # the bulk insert's drop rolled back

    (again,) = cli_import(broken, "claude-code", claude)
    assert (again["files_read"], again["calls_added"]) == (5, 5)
    (once,) = cli_import(whole, "claude-code", claude)
    assert once["calls_added"] == 9
    assert len(stored(broken)["ledger"]) == 9  # the last batch, held, committed at the end
    assert stored(broken) == stored(whole)
