"""Where PostgreSQL event writers spend their time: ``python -m benchmarks.writer_time
[--writers 1 4] [--seconds 2] [--mode events|floor]``.

`benchmarks.writers` prints rates and CPU per event; this says what the rest of the wall time
was. For each writer count it runs the writer processes of `benchmarks.writers` (the same
children: ``events`` = `RunWriter.record`, ``floor`` = a bare insert + commit) with the same
tailing reader, and meanwhile:

- splits the wall time of every process taking part -- the writers, their server backends, the
  reader (this process) and its backends, PostgreSQL's WAL writer -- into time on a CPU, time
  runnable but waiting for a CPU (the machine's other work included) and time asleep, from
  ``/proc/<pid>/task/*/schedstat`` (the kernel's own counters: they do not move with sampling);
- samples the writers' backends' ``pg_stat_activity.wait_event_type:wait_event`` every few
  milliseconds from a connection of its own (what an asleep backend waits for: ``Client:
  ClientRead`` is the client's turn, ``IO:WALSync`` its own flush, ``LWLock:WALWrite`` another
  backend's flush, ``Lock:advisory`` the feed lock);
- counts ``pg_stat_wal`` (cluster-wide: other databases' writes count too on a shared server)
  per event: WAL records, bytes, writes and syncs (the fdatasyncs).

``--pgoptions`` passes server settings to the writers' sessions (libpq's ``PGOPTIONS``), to
measure e.g. ``commit_delay`` beside the same run without it.

Printed per writer count: events/s; per event the CPU, runnable and asleep microseconds of each
group; the sampled wait events' shares; WAL per event.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from benchmarks._workspaces import pg_workspace
from benchmarks.writers import _prepare_floor, claimed_runs, collect, run_writers, tail_until_done
from stagent.workspace import Workspace

LEAD = 20.0
"""Seconds from starting the writer processes to their common start (imports on a loaded
machine take seconds)."""
Conn = psycopg.Connection[tuple[object, ...]]
WAL_COLUMNS = ("wal_records", "wal_bytes", "wal_write", "wal_sync")


def schedstat(pid: int, skip: frozenset[int] = frozenset()) -> tuple[int, int]:
    """Nanoseconds on a CPU and runnable-but-waiting of every thread of ``pid`` so far (0, 0
    once it has exited), but the threads in ``skip``."""
    on_cpu = waiting = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return 0, 0
    for task in tasks:
        if int(task.name) in skip:
            continue
        try:
            fields = (task / "schedstat").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        on_cpu, waiting = on_cpu + int(fields[0]), waiting + int(fields[1])
    return on_cpu, waiting


class Sampler(threading.Thread):
    """Samples the wait events of some backends every ``interval`` seconds until stopped."""

    def __init__(self, dsn: str, datname: str, interval: float = 0.003) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.datname = datname
        self.interval = interval
        self.pids: set[int] = set()
        self.waits: Counter[str] = Counter()
        self.samples = 0
        self.stop = threading.Event()
        self.recording = threading.Event()
        self.thread_id = 0

    def run(self) -> None:
        self.thread_id = threading.get_native_id()
        query = (
            "SELECT pid, state, coalesce(wait_event_type || ':' || wait_event, 'on CPU')"
            " FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
        )
        own = self.conn.info.backend_pid
        while not self.stop.wait(self.interval):
            rows = self.conn.execute(query, (self.datname,)).fetchall()
            if not self.recording.is_set():
                continue
            self.samples += 1
            for pid, state, wait in rows:
                if pid != own and pid in self.pids:
                    self.waits[wait if state == "active" else f"{state}: {wait}"] += 1


def wal_counts(conn: Conn) -> dict[str, float]:
    """``pg_stat_wal``'s counters now."""
    row = conn.execute(f"SELECT {', '.join(WAL_COLUMNS)} FROM pg_stat_wal").fetchone()
    assert row is not None
    return {name: float(str(value)) for name, value in zip(WAL_COLUMNS, row, strict=True)}


def walwriter_pids(conn: Conn) -> set[int]:
    """PIDs of PostgreSQL's WAL writer."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'"
    ).fetchall()
    return {int(str(row[0])) for row in rows}


def local_ports(pid: int) -> set[int]:
    """Local TCP ports of ``pid``'s sockets (its connections' ``client_port`` on the server)."""
    inodes: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = str(fd.readlink())
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def backends_of(conn: Conn, pids: Iterable[int]) -> set[int]:
    """Server backends of the connections the processes ``pids`` hold open."""
    ports = set[int]().union(*(local_ports(pid) for pid in pids))
    rows = conn.execute("SELECT pid, client_port FROM pg_stat_activity").fetchall()
    return {int(str(pid)) for pid, port in rows if port in ports}


def totals(pids: Iterable[int], skip: frozenset[int]) -> tuple[int, int]:
    """`schedstat` summed over ``pids``."""
    on_cpu = waiting = 0
    for pid in pids:
        cpu, wait = schedstat(pid, skip)
        on_cpu, waiting = on_cpu + cpu, waiting + wait
    return on_cpu, waiting


def written_so_far(conn: Conn, mode: str) -> int:
    """Rows the writers have committed: the feed's newest ``seq`` (events) or the floor table's
    newest id (ids and seqs are gapless here: one sequence, nothing rolled back)."""
    table, column = ("floor_events", "id") if mode == "floor" else ("agent_events", "seq")
    row = conn.execute(f"SELECT coalesce(max({column}), 0) FROM {table}").fetchone()
    return int(str(row[0])) if row else 0


def writer_connections(conn: Conn, procs: list[subprocess.Popen[str]], expected: int) -> set[int]:
    """The backends of the writer processes, once ``expected`` are connected (or the start
    came)."""
    deadline = time.time() + LEAD - 0.5
    found: set[int] = set()
    while len(found) < expected and time.time() < deadline:
        time.sleep(0.1)  # each child connects, then waits for the common start
        found = backends_of(conn, [proc.pid for proc in procs])
    if len(found) < expected:
        print(f"  (only {len(found)} of {expected} writer connections before the start)")
    return found


def measure(ws: Workspace, writers: int, seconds: float, mode: str) -> None:
    """Run ``writers`` writer processes for ``seconds`` and print where their time went."""
    parsed = make_url(ws.store.url)
    dsn = parsed.set(drivername="postgresql").render_as_string(False)
    admin = psycopg.connect(dsn, autocommit=True)
    run_ids = claimed_runs(ws, writers)
    if mode == "floor":
        _prepare_floor(ws)
    sampler = Sampler(dsn, parsed.database or "")
    start_seq = ws.tasks.last_seq()
    launched = time.time()
    procs = run_writers(ws.store.url, run_ids, seconds, mode, LEAD)
    # events: each child has a pooled connection (it read its run) and a hot one
    sampler.pids = writer_connections(admin, procs, writers * (2 if mode == "events" else 1))
    ours = {admin.info.backend_pid, sampler.conn.info.backend_pid}
    groups = {
        "writers": {proc.pid for proc in procs},
        "their backends": sampler.pids,
        "reader": {os.getpid()},
        "reader's backends": backends_of(admin, [os.getpid()]) - ours,
        "walwriter": walwriter_pids(admin),
    }
    sampler.start()
    time.sleep(max(0.0, launched + LEAD + 0.2 - time.time()))
    skip = frozenset({sampler.thread_id})
    wal_before, rows_before = wal_counts(admin), written_so_far(admin, mode)
    before = {name: totals(pids, skip) for name, pids in groups.items()}
    began = time.perf_counter()
    sampler.recording.set()
    time.sleep(seconds * 0.8)  # the children stop ``seconds`` after their start
    after = {name: totals(pids, skip) for name, pids in groups.items()}
    wall = time.perf_counter() - began
    wal_after, rows_after = wal_counts(admin), written_so_far(admin, mode)
    sampler.stop.set()
    seen = tail_until_done(ws, procs, start_seq)
    written = collect(procs)[0]
    sampler.join()
    events = max(rows_after - rows_before, 1)
    load = os.getloadavg()[0]
    print(
        f"postgresql {mode}, {writers} writer(s): {events / wall:6.0f} events/s (load {load:.1f},"
        f" {os.environ.get('PGOPTIONS', 'server settings')}); {written} written, {len(seen)}"
        " seen by the reader"
    )
    for name, pids in groups.items():
        cpu = (after[name][0] - before[name][0]) / 1e3 / events
        runnable = (after[name][1] - before[name][1]) / 1e3 / events
        asleep = len(pids) * wall * 1e6 / events - cpu - runnable
        print(
            f"  {name:18} per event: CPU {cpu:5.0f} us, runnable {runnable:5.0f} us"
            + (f", asleep {asleep:6.0f} us ({len(pids)} processes)" if name != "walwriter" else "")
        )
    total = sum(sampler.waits.values()) or 1
    shares = ", ".join(f"{wait} {n / total:.0%}" for wait, n in sampler.waits.most_common(8))
    print(f"  writers' backends, {sampler.samples} samples: {shares}")
    wal = {name: (wal_after[name] - wal_before[name]) / events for name in WAL_COLUMNS}
    print(
        "  pg_stat_wal per event (cluster-wide): "
        + ", ".join(f"{name} {value:.2f}" for name, value in wal.items())
    )
    sampler.conn.close()
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--mode", choices=("events", "floor"), default="events")
    parser.add_argument(
        "--pgoptions",
        help="server settings for the writers' sessions, e.g. '-c commit_delay=100 -c"
        " commit_siblings=1' (commit_delay needs a superuser; information, never required)",
    )
    args = parser.parse_args()
    if args.pgoptions:
        os.environ["PGOPTIONS"] = args.pgoptions  # libpq sends them at each child's connect
    for writers in args.writers:
        with pg_workspace() as ws:
            measure(ws, writers, args.seconds, args.mode)


if __name__ == "__main__":
    main()
