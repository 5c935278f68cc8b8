"""The OS sandbox every agent process runs in (bubblewrap on Linux, sandbox-exec on macOS).

An agent's process (the Claude Code CLI, ``codex app-server``) and everything it starts run with:

- Stagent's home (database, owner token, other runs' directories) replaced by an empty,
  read-only directory: it does not exist for the agent;
- the database file itself, if it lives elsewhere, replaced by an empty file;
- the whole file system read-only (``/tmp`` included), except the run's working directory and
  its own scratch directories (its config dir, ``HOME`` and a ``TMPDIR`` of its own);
- a fixed path the runtime needs writable (Codex's ``/tmp/codex-daemon-<uid>``) replaced by an
  empty directory of the run's own (``private_dirs``), so nothing the host keeps there is reachable;
- the network shared (the agent must reach its model endpoint), processes in their own PID
  namespace and session, all killed when Stagent goes.

The runtimes' own sandboxes (Codex's ``workspace-write``, Claude Code's permission modes) still
apply inside; they add to this one, they do not replace it.

Measured cost of the wrapper: about 5 ms a start (``benchmarks.sandbox``). The macOS profile is
written from the same `Confinement` but is not exercised by the test suite (Linux only).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

SandboxMode = Literal["auto", "off"]
SandboxKind = Literal["bubblewrap", "sandbox-exec", "none"]
SANDBOX_ENV = "STAGENT_SANDBOX"
"""``off`` runs agents without the OS sandbox (and every decision surface says so)."""
UNSANDBOXED_WARNING = "this agent can act as you, including approving its own requests"


@dataclass(frozen=True, slots=True)
class Confinement:
    """What one agent process may see and write."""

    hidden: tuple[Path, ...]
    """Directories that must not exist for the agent (Stagent's home)."""
    writable: tuple[Path, ...]
    """Directories the agent may write: its working directory and its scratch space."""
    hidden_files: tuple[Path, ...] = ()
    """Files outside ``hidden`` that must read as empty (a database kept elsewhere)."""
    cwd: Path | None = None
    tmpdir: Path | None = None
    """The run's own temporary directory (created; writable; the agent's ``TMPDIR``)."""
    private_dirs: tuple[Path, ...] = ()
    """Fixed paths that get an empty directory of the run's own (bubblewrap: a tmpfs, mode 0700,
    gone with the process) instead of whatever the host keeps there (`private_mount_points`).
    Codex needs it: its Linux sandbox wants ``/tmp/codex-daemon-<uid>`` writable, and a host
    Codex daemon's socket there must stay out of reach."""


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """Whether agents run contained here, and how; shown in Settings and ``stagent doctor``."""

    kind: SandboxKind
    detail: str

    @property
    def available(self) -> bool:
        """True when agents run inside an OS sandbox."""
        return self.kind != "none"


def mode_from_env(environ: dict[str, str] | None = None) -> SandboxMode:
    """``STAGENT_SANDBOX`` (``auto`` unless it says ``off``)."""
    value = (os.environ if environ is None else environ).get(SANDBOX_ENV, "auto")
    return "off" if value.strip().lower() in {"off", "0", "false", "no"} else "auto"


def status(mode: SandboxMode | None = None) -> SandboxStatus:
    """Which sandbox agents get on this machine (probed once per process)."""
    if (mode or mode_from_env()) == "off":
        return SandboxStatus("none", f"turned off with {SANDBOX_ENV}=off")
    return _probe()


@functools.cache
def _probe() -> SandboxStatus:
    if sys.platform == "darwin":
        if Path("/usr/bin/sandbox-exec").is_file():
            return SandboxStatus("sandbox-exec", "macOS sandbox profiles (sandbox-exec)")
        return SandboxStatus("none", "sandbox-exec not found")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxStatus(
            "none", "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        )
    probe = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "true"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxStatus("none", f"bubblewrap cannot start: {exc}")
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        why = reason[-1] if reason else f"exit {done.returncode}"
        return SandboxStatus("none", f"bubblewrap cannot create a sandbox here: {why}")
    return SandboxStatus("bubblewrap", f"bubblewrap ({bwrap})")


@dataclass(frozen=True, slots=True)
class SandboxPolicy:
    """How a runtime confines its agent processes: the mode, and what always stays hidden."""

    mode: SandboxMode | None = None
    """``None`` reads ``STAGENT_SANDBOX`` when a run starts."""
    hidden: tuple[Path, ...] = ()
    """Directories hidden from every run (Stagent's home)."""
    hidden_files: tuple[Path, ...] = ()
    """Files hidden from every run (a SQLite database kept outside the home)."""

    def status(self) -> SandboxStatus:
        """The sandbox runs get under this policy."""
        return status(self.mode)

    def confine(
        self,
        argv: list[str],
        *,
        writable: tuple[Path, ...],
        cwd: Path | None,
        hidden: tuple[Path, ...] = (),
        tmpdir: Path | None = None,
        private_dirs: tuple[Path, ...] = (),
    ) -> list[str]:
        """``argv`` wrapped so that it runs contained (unchanged where no sandbox exists)."""
        confinement = Confinement(
            hidden=(*self.hidden, *hidden),
            writable=writable,
            hidden_files=self.hidden_files,
            cwd=cwd,
            tmpdir=tmpdir,
            private_dirs=private_dirs,
        )
        return wrap(argv, confinement, self.status().kind)


def wrap(argv: list[str], confinement: Confinement, kind: SandboxKind) -> list[str]:
    """``argv`` run inside the sandbox ``kind`` (unchanged for ``none``)."""
    if kind == "bubblewrap":
        return bwrap_argv(argv, confinement)
    if kind == "sandbox-exec":
        tmp = [f"TMPDIR={p.resolve()}" for p in _make_tmpdir(confinement.tmpdir)]
        profile = macos_profile(confinement)
        return ["/usr/bin/sandbox-exec", "-p", profile, "/usr/bin/env", *tmp, *argv]
    return list(argv)


def bwrap_argv(argv: list[str], confinement: Confinement) -> list[str]:
    """The bubblewrap command line for ``argv`` under ``confinement``.

    Mounts stack in order: the read-only root; the writable directories
    outside the hidden ones; an empty directory over each hidden one (so a writable directory that
    contains Stagent's home does not expose it) and an empty file over each hidden file; the
    writable directories inside a hidden one (the run's own scratch); an empty private directory
    on each of the runtime's fixed paths; then the hidden directories made read-only, so the agent
    can neither read nor plant anything there.
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    hidden = _existing_dirs(confinement.hidden)
    extra = _make_tmpdir(confinement.tmpdir)
    writable = _existing((*confinement.writable, *extra))
    inner = [path for path in writable if _inside(path, hidden)]
    for path in (p for p in writable if p not in inner):
        args += ["--bind", str(path), str(path)]
    for path in hidden:
        args += ["--tmpfs", str(path)]
    for path in confinement.hidden_files:
        for candidate in _with_sqlite_companions(path):
            if candidate.is_file() and not _inside(candidate, hidden):
                args += ["--ro-bind", "/dev/null", str(candidate.resolve())]
    for path in inner:
        args += ["--bind", str(path), str(path)]
    for path in private_mount_points(confinement.private_dirs):
        args += ["--tmpfs", str(path), "--chmod", "0700", str(path)]
    for path in hidden:
        args += ["--remount-ro", str(path)]
    if confinement.cwd is not None:
        args += ["--chdir", str(confinement.cwd)]
    for path in extra:
        args += ["--setenv", "TMPDIR", str(path.resolve())]
    args += ["--unshare-pid", "--die-with-parent", "--new-session", "--"]
    return args + list(argv)


def macos_profile(confinement: Confinement) -> str:
    """A sandbox-exec (SBPL) profile equivalent to `bwrap_argv` (not tested on Linux CI)."""

    def paths(items: tuple[Path, ...]) -> str:
        return " ".join(f'(subpath "{_sbpl(p)}")' for p in items)

    writable = (*confinement.writable, *_make_tmpdir(confinement.tmpdir))
    lines = [
        "(version 1)",
        "(allow default)",
        "(deny file-write*)",
        f'(allow file-write* (literal "/dev/null") (subpath "/dev/fd") {paths(writable)})',
    ]
    secret = (*confinement.hidden, *confinement.hidden_files)
    if secret:
        lines.append(f"(deny file-read* file-write* {paths(secret)})")
    if writable:
        lines.append(f"(allow file-read* file-write* {paths(writable)})")
    return "\n".join(lines) + "\n"


def private_mount_points(paths: tuple[Path, ...]) -> list[Path]:
    """The ``paths`` that can take a private directory: each missing one is created on the host
    first (an empty 0700 directory, as the runtime itself would make it outside the sandbox),
    since bubblewrap needs a mount point and cannot create one under the read-only root. A path
    that is a symbolic link or not a directory (someone else's, in a shared ``/tmp``) is left
    out: the runtime then finds it read-only, as without this.

    A tmpfs rather than a bind of a run directory: Codex's sandbox refuses a socket directory
    that is a bind-mount alias of another path ("unsupported host mount").
    """
    ready: list[Path] = []
    for path in paths:
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        if not path.is_symlink() and path.is_dir():
            ready.append(path)
    return ready


def _make_tmpdir(tmpdir: Path | None) -> tuple[Path, ...]:
    if tmpdir is None:
        return ()
    tmpdir.mkdir(parents=True, exist_ok=True)
    return (tmpdir,)


def _sbpl(path: Path) -> str:
    return str(path.resolve()).replace("\\", "\\\\").replace('"', '\\"')


def _existing_dirs(paths: tuple[Path, ...]) -> list[Path]:
    """Resolved, de-duplicated directories that exist, outermost first."""
    found = {p.resolve() for p in paths if p.is_dir()}
    return sorted(found, key=lambda p: len(p.parts))


def _existing(paths: tuple[Path, ...]) -> list[Path]:
    """Resolved, de-duplicated files and directories that exist, outermost first."""
    found = {p.resolve() for p in paths if p.exists()}
    return sorted(found, key=lambda p: len(p.parts))


def _inside(path: Path, roots: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root) for root in roots)


def _with_sqlite_companions(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
