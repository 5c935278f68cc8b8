"""Start a command the way a contained Codex app-server starts (`CodexRuntime.plan`'s argv and
environment, Stagent's home hidden), printing one JSON line: exit code, stdout, stderr.

``test_codex_nested_sandbox`` runs this under an outer bubblewrap with an empty ``/tmp`` that
stands for a host where Codex never ran (so the test neither needs nor touches this machine's
own ``/tmp/codex-daemon-<uid>``)::

    python codex_fresh_host.py ROOT [--plant] codex ARGS...  # Codex, ARGS for app-server's
    python codex_fresh_host.py ROOT [--plant] CMD ARGS...    # CMD in the app-server's place

``--plant`` first puts a listening socket in the host's ``/tmp/codex-daemon-<uid>``, as a Codex
daemon of the user's own would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from stagent.runtimes._codex_config import daemon_dir
from stagent.runtimes.base import RunRequest
from stagent.runtimes.codex import CodexRuntime
from stagent.runtimes.sandbox import SandboxPolicy


def main(args: list[str]) -> None:
    root, rest = Path(args[0]), args[1:]
    listener = None
    if rest[0] == "--plant":
        rest = rest[1:]
        daemon_dir().mkdir(mode=0o700)
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(str(daemon_dir() / "host.sock"))
        listener.listen()
    home = root / "stagent-home"
    runtime = CodexRuntime(
        base_url="http://127.0.0.1:9/v1",
        api_key="sk-test-fresh-host",
        model="gpt-5.5",
        state_dir=home / "runtimes" / "codex",
        environ={"PATH": os.environ.get("PATH", os.defpath)},
        containment=SandboxPolicy(mode="auto", hidden=(home,)),
    )
    plan = runtime.plan(RunRequest(task_id="fresh-host", prompt="hi"))
    binary = plan.argv.index("app-server") - 1
    command = rest[1:] if rest[0] == "codex" else rest
    argv = plan.argv[: binary + (1 if rest[0] == "codex" else 0)] + command
    done = subprocess.run(argv, env=plan.env, cwd=plan.cwd, capture_output=True, text=True)
    print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr}))
    if listener is not None:
        listener.close()


if __name__ == "__main__":
    main(sys.argv[1:])
