"""The app-server's JSON-RPC client over real pipes, against a small child process that says
what a damaged or newer ``codex app-server`` might: stray lines, answers nobody asked for, an
error answer, coloured stderr holding the key, then an early exit."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stagent.runtimes._codex_rpc import JsonRpcProcess, ProcessGone, RpcError, stderr_summary

SECRET = "sk-test-rpc-0123456789"
CHILD = r"""
import json, sys
def say(line):
    sys.stdout.write(line + "\n"); sys.stdout.flush()
first = json.loads(sys.stdin.readline())
say("this is not json")
say("[1, 2, 3]")
say('{"neither": "method nor id"}')
say('{"id": 999, "result": {}}')
say('{"id": "text-id", "result": {}}')
say('{"method": "thread/started", "params": {"thread": {"id": "t1"}}}')
say('{"id": 7, "method": "item/commandExecution/requestApproval", "params": "not an object"}')
say(json.dumps({"id": first["id"], "error": {"code": -32600, "message": "bad clientInfo"}}))
second = json.loads(sys.stdin.readline())
say(json.dumps({"id": second["id"], "result": {"ok": True}}))
answer = json.loads(sys.stdin.readline())
sys.stderr.write("\x1b[31mERROR\x1b[0m provider rejected key SECRET\n")
sys.stderr.write("   at codex_core::client\n")
sys.stderr.flush()
sys.stdout.write(json.dumps({"echo": answer}) + "\n"); sys.stdout.flush()
sys.exit(3)
""".replace("SECRET", SECRET)


@pytest.fixture(name="child")
async def child_fixture(tmp_path: Path) -> AsyncIterator[JsonRpcProcess]:
    script = tmp_path / "fake_app_server.py"
    script.write_text(CHILD)
    rpc = await JsonRpcProcess.spawn(
        [sys.executable, str(script)], {"PATH": "/usr/bin:/bin"}, str(tmp_path), (SECRET,)
    )
    yield rpc
    await rpc.close()  # reaped even when a test failed half-way


async def test_stray_lines_are_skipped_and_answers_reach_their_requests(
    child: JsonRpcProcess, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(RpcError) as refused:
        await asyncio.wait_for(child.request("initialize", {"clientInfo": {}}), 30)
    assert str(refused.value) == "initialize: bad clientInfo"
    assert refused.value.code == -32600

    # Only the well-formed notification and server request came through, in order.
    started = await asyncio.wait_for(child.next_message(), 30)
    assert started is not None and started.method == "thread/started"
    assert not started.is_request and started.params == {"thread": {"id": "t1"}}
    asked = await asyncio.wait_for(child.next_message(), 30)
    assert asked is not None and asked.is_request and asked.id == 7
    assert asked.params == {}  # params that are not an object read as none

    assert await asyncio.wait_for(child.request("thread/start"), 30) == {"ok": True}
    skipped = " ".join(record.getMessage() for record in caplog.records)
    for what in ("malformed line", "non-object line", "unknown shape", "unknown request id"):
        assert what in skipped
    await child.fail(asked.id, -32601, "no")

    # The child exits: waiting requests fail, the inbox ends, sending is refused.
    assert await asyncio.wait_for(child.next_message(), 30) is None
    assert await asyncio.wait_for(child.next_message(), 30) is None  # and stays ended
    with pytest.raises(ProcessGone):
        await child.notify("initialized")
    assert child.exited
    assert await child.close() == 3


async def test_stderr_is_kept_without_colours_or_the_key(child: JsonRpcProcess) -> None:
    with pytest.raises(RpcError):
        await asyncio.wait_for(child.request("initialize"), 30)
    await asyncio.wait_for(child.request("thread/start"), 30)
    await child.respond(7, {"decision": "decline"})
    assert await asyncio.wait_for(child.next_message(), 30) is not None
    assert await asyncio.wait_for(child.next_message(), 30) is not None
    assert await asyncio.wait_for(child.next_message(), 30) is None
    await child.close()

    text = child.stderr_text()
    assert "ERROR provider rejected key [redacted]" in text
    assert SECRET not in text and "\x1b[" not in text
    # What an error message quotes: the error line, not the backtrace.
    assert stderr_summary(text) == "ERROR provider rejected key [redacted]"


async def test_a_request_waiting_when_the_child_dies_fails_at_once(tmp_path: Path) -> None:
    script = tmp_path / "dies.py"
    script.write_text("import sys\nsys.stdin.readline()\nsys.exit(5)\n")
    rpc = await JsonRpcProcess.spawn([sys.executable, str(script)], {}, str(tmp_path))
    with pytest.raises(ProcessGone):
        await asyncio.wait_for(rpc.request("initialize"), 30)
    assert await rpc.close() == 5
