"""The bubblewrap sandbox itself, run for real: what an agent process can see and write."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandboxtools import require_bubblewrap, sh, tree

from stagent.runtimes.sandbox import (
    Confinement,
    SandboxPolicy,
    bwrap_argv,
    macos_profile,
    status,
    wrap,
)


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    require_bubblewrap()
    home = tmp_path / "stagent-home"
    run = home / "runs" / "t1" / "claude" / "home"
    other = home / "runs" / "t2" / "claude" / "home"
    project = tmp_path / "project"
    for path in (run, other, project):
        path.mkdir(parents=True)
    (home / "owner.token").write_text("s3cret-owner-token")
    (home / "stagent.sqlite").write_bytes(b"SQLite format 3\0")
    (other / "notes.txt").write_text("another run's file")
    return {"home": home, "run": run, "other": other, "project": project}


def confine(paths: dict[str, Path], **extra: object) -> Confinement:
    return Confinement(
        hidden=(paths["home"],),
        writable=(paths["project"], paths["run"]),
        cwd=paths["project"],
        **extra,  # type: ignore[arg-type]
    )


def test_home_is_gone_and_cannot_be_planted(layout: dict[str, Path]) -> None:
    home = layout["home"]
    before = tree(home)
    done = sh(
        f"cat {home}/owner.tok?n; cat {home}/owner.token; ls {home}/runs; "
        f"cat {layout['other']}/notes.txt; ls $(dirname {home}); "
        f"echo planted > {home}/owner.token; mkdir {home}/x; true",
        confine(layout),
    )
    assert "s3cret-owner-token" not in done.stdout
    assert "another run's file" not in done.stdout
    assert "t2" not in done.stdout.split()  # only the run's own directory chain is there
    assert "Read-only file system" in done.stderr
    assert tree(home) == before


def test_writes_only_in_the_working_dir_the_run_dir_and_its_tmpdir(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    tmpdir = layout["run"].parent / "tmp"
    done = sh(
        f"echo a > {layout['project']}/made.txt && echo b > {layout['run']}/scratch.txt && "
        f'echo c > "$TMPDIR/t.txt" && cat "$TMPDIR/t.txt"; echo d > {outside}; '
        "echo e > /tmp/stagent-sandbox-test; echo f > /etc/stagent-test; pwd",
        confine(layout, tmpdir=tmpdir),
    )
    assert (layout["project"] / "made.txt").read_text() == "a\n"
    assert (layout["run"] / "scratch.txt").read_text() == "b\n"
    assert (tmpdir / "t.txt").read_text() == "c\n"
    assert not outside.exists()
    assert not Path("/etc/stagent-test").exists()
    assert not Path("/tmp/stagent-sandbox-test").exists()
    assert done.stdout.split() == ["c", str(layout["project"].resolve())]


def test_a_private_dir_is_empty_writable_and_keeps_the_host_s_out(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    # Codex's /tmp/codex-daemon-<uid>: missing on one host, holding a host daemon's socket on
    # another. Inside, each is an empty 0700 directory of the run's own.
    missing, shared = tmp_path / "daemon-missing", tmp_path / "daemon-shared"
    shared.mkdir(mode=0o700)
    (shared / "host.sock").write_text("a host Codex daemon's socket")
    done = sh(
        f"for d in {missing} {shared}; do stat -c %a $d; ls -A $d; "
        "echo mine > $d/made && cat $d/made; done",
        confine(layout, private_dirs=(missing, shared)),
    )
    assert done.stdout.split() == ["700", "mine", "700", "mine"], done.stderr
    assert missing.is_dir() and oct(missing.stat().st_mode & 0o777) == "0o700"
    assert list(missing.iterdir()) == []  # made by us on the host, written to only inside
    assert sorted(p.name for p in shared.iterdir()) == ["host.sock"]


def test_a_private_dir_is_not_mounted_through_someone_else_s_symlink(
    layout: dict[str, Path], tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "kept.txt").write_text("theirs")
    link = tmp_path / "daemon-link"
    link.symlink_to(target)
    argv = bwrap_argv(["true"], confine(layout, private_dirs=(link,)))
    assert str(link) not in argv and str(target) not in argv
    done = sh(f"ls -A {link}/", confine(layout, private_dirs=(link,)))
    assert done.stdout.split() == ["kept.txt"]


def test_a_project_that_contains_the_home_does_not_expose_it(layout: dict[str, Path]) -> None:
    parent = layout["home"].parent
    done = sh(
        f"cat {layout['home']}/owner.token; echo ok > {parent}/top.txt",
        Confinement(hidden=(layout["home"],), writable=(parent,), cwd=parent),
    )
    assert "s3cret" not in done.stdout
    assert (parent / "top.txt").read_text() == "ok\n"


def test_a_database_outside_the_home_reads_empty(layout: dict[str, Path], tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "team.sqlite"
    database.parent.mkdir()
    database.write_text("rows")
    (tmp_path / "elsewhere" / "team.sqlite-wal").write_text("wal rows")
    done = sh(
        f"cat {database} {database}-wal; echo x > {database}",
        confine(layout, hidden_files=(database,)),
    )
    assert "rows" not in done.stdout
    assert database.read_text() == "rows"


def test_processes_outside_are_invisible(layout: dict[str, Path]) -> None:
    done = sh("ls /proc | grep -c '^[0-9]'", confine(layout))
    assert int(done.stdout.strip()) <= 4  # its init, bash, ls and grep: its own PID namespace


def test_network_to_loopback_stays_open(layout: dict[str, Path]) -> None:
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept()[0].sendall(b"model"), daemon=True).start()
    done = sh(f"exec 3<>/dev/tcp/127.0.0.1/{port}; head -c 5 <&3", confine(layout))
    server.close()
    assert done.stdout == "model"


def test_off_and_no_sandbox_leave_the_command_alone(layout: dict[str, Path]) -> None:
    argv = ["claude", "--print"]
    assert wrap(argv, confine(layout), "none") == argv
    assert SandboxPolicy(mode="off").confine(argv, writable=(), cwd=None) == argv
    assert status("off").available is False
    assert "STAGENT_SANDBOX=off" in status("off").detail
    wrapped = SandboxPolicy(mode="auto", hidden=(layout["home"],)).confine(
        argv, writable=(layout["project"],), cwd=layout["project"]
    )
    assert wrapped[-3:] == ["--", *argv] and "--die-with-parent" in wrapped


def test_macos_profile_denies_the_home_and_allows_the_run(layout: dict[str, Path]) -> None:
    profile = macos_profile(confine(layout))
    home = str(layout["home"].resolve())
    assert f'(deny file-read* file-write* (subpath "{home}"))' in profile
    assert str(layout["run"].resolve()) in profile.splitlines()[-1]
    assert profile.startswith("(version 1)")
    assert bwrap_argv(["x"], confine(layout))[-1] == "x"
