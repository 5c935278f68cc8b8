"""`stagent.lean`: msgspec without ``typing_extensions`` decodes as it does with it, and
``typing_extensions`` (pydantic's) still imports after."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from stagent.ledger.importers.claude_code import parse_line
line = sys.stdin.buffer.read()
copy = parse_line(line)
loaded = {name: name in sys.modules for name in ("msgspec", "typing_extensions", "inspect")}
platform_loaded = "platform" in sys.modules
import pydantic  # needs typing_extensions: importable again after msgspec loaded
class M(pydantic.BaseModel):
    n: int
import platform, uuid  # the real platform, and uuid as it is with it
linux = uuid._LINUX == (platform.system() == "Linux") and bool(platform.python_version())
print(json.dumps({"key": copy.dedupe_key, "total": copy.total, "rank": list(copy.rank),
                  "loaded": loaded, "pydantic": M(n=3).n, "platform_loaded": platform_loaded,
                  "uuid": uuid.UUID(str(uuid.uuid4())).version, "linux": linux}))
"""
LINE = {
    "type": "assistant",
    "requestId": "req_1",
    "sessionId": "s1",
    "cwd": "/src",
    "timestamp": "2026-11-20T10:00:00Z",
    "message": {
        "id": "msg_1",
        "model": "claude-sonnet-4-5",
        "usage": {"input_tokens": 3, "output_tokens": 120, "cache_read_input_tokens": 7},
    },
}


def _probe(preload: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", preload + PROBE],
        input=json.dumps(LINE).encode(),
        capture_output=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_a_fresh_process_parses_the_same_without_typing_extensions() -> None:
    lean = _probe("")
    usual = _probe("import typing_extensions\n")  # as in a server: pydantic loaded it first

    assert lean["loaded"] == {"msgspec": True, "typing_extensions": False, "inspect": False}
    assert usual["loaded"] == {"msgspec": True, "typing_extensions": True, "inspect": True}
    for name in ("key", "total", "rank"):
        assert lean[name] == usual[name]
    assert lean["total"] == 130
    assert lean["pydantic"] == usual["pydantic"] == 3
    # uuid (msgspec's) loaded without `platform`, which still imports whole after
    assert lean["platform_loaded"] is False
    assert lean["uuid"] == usual["uuid"] == 4
    assert lean["linux"] is usual["linux"] is True


COMPILES = """
import sys, typing
compiled = []
original = typing.ForwardRef.__init__
def counting(self, arg, *args, **kwargs):
    frame = sys._getframe(1)
    while frame.f_code.co_filename.endswith("typing.py"):
        frame = frame.f_back
    if arg != "Foo":  # msgspec's own probe when it loads
        compiled.append(frame.f_code.co_filename)
    original(self, arg, *args, **kwargs)
typing.ForwardRef.__init__ = counting
import stagent.ledger.cost, stagent.ledger.importers.claude_code, stagent.ledger.price_table
ours = ("ledger/cost.py", "ledger/price_table.py", "importers/claude_code.py", "msgspec/_utils.py")
print(sum(name.endswith(ours) for name in compiled))
"""


def test_the_price_and_parser_classes_compile_no_annotations() -> None:
    # NamedTuples and msgspec Structs compile a `ForwardRef` per string annotation (~70 of
    # them in these modules, ~4M instructions of a re-run): they keep real annotations (no
    # `from __future__ import annotations`)
    done = subprocess.run(
        [sys.executable, "-c", COMPILES], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "0"
