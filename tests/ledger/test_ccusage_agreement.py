"""Token totals agree with ccusage on the same transcripts; costs differ exactly where ccusage is
wrong, and by exactly how much.

Where ccusage 20.0.24 (commit 5816e64, `agent-ecosystem-facts.md` section 3) and Stagent differ:

- **Long context.** A Sonnet 4.x request whose prompt is over 200,000 tokens is billed by
  Anthropic *entirely* at the long-context rates ($6 in, $22.50 out, $0.60 cache read ...).
  ccusage applies LiteLLM's ``*_above_200k_tokens`` prices per token category, to the part of
  each category's count above 200,000 only. On the fixture's one long request (1,000 input,
  250,000 cache-read, 500 output tokens) that is $0.1005 instead of $0.16725: $0.06675 low.
- Everything else (de-duplication of streamed lines, the placeholder output count, the ``/btw``
  replay, synthetic lines, one-hour cache writes at 2x input) agrees, so token totals are equal
  and every other call costs the same.

`test_against_ccusages_documented_algorithm` checks this against ccusage's algorithm written out
here; `test_against_the_real_ccusage` (slow) runs the npm package's binary on the same files when
it is installed (``CCUSAGE_BIN``, or ``ccusage`` on the PATH; nothing is downloaded).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from tests.ledger.logtools import SESSION, claude_assistant, claude_transcript, claude_user

from stagent.ledger.importers import CLAUDE_CODE
from stagent.store.ledger import LedgerFilter
from stagent.workspace import Workspace

THRESHOLD = 200_000
# USD per MTok: (input, output, 5-minute write, cache read), and the above-200K prices
PRICES = {
    "claude-sonnet-4-5-20250929": ((3, 15, 3.75, 0.30), (6, 22.5, 7.5, 0.60)),
    "claude-opus-4-6": ((5, 25, 6.25, 0.50), None),
}
CALLS = [
    # (message id, model, input, output, 5-minute write, 1-hour write, cache read)
    ("msg_A", "claude-sonnet-4-5-20250929", 3, 250, 0, 4_000, 12_000),
    ("msg_B", "claude-sonnet-4-5-20250929", 1_000, 500, 0, 0, 250_000),  # long context
    ("msg_C", "claude-opus-4-6", 10, 800, 2_000, 0, 30_000),
]
LONG_CONTEXT_GAP_MICROS = 66_750  # (6,000 + 150,000 + 11,250) - (3,000 + 60,000 + 30,000 + 7,500)


def write_fixture(root: Path) -> Path:
    """The transcripts both tools read (one session and a /btw side chain)."""
    lines = [claude_user()]
    for msg, model, inputs, output, five, hour, read in CALLS:
        common = {"model": model, "input_tokens": inputs, "cache_5m": five, "cache_1h": hour,
                  "cache_read": read}  # fmt: skip
        req = msg.replace("msg", "req")
        lines.append(claude_assistant(msg, req, output_tokens=1, **common))  # placeholder
        lines.append(claude_assistant(msg, req, output_tokens=output, **common))
    # synthetic messages (API errors, interruptions) carry zero usage in real transcripts
    lines.append(
        claude_assistant("msg_S", "req_S", model="<synthetic>", input_tokens=0, output_tokens=0)
    )
    claude_transcript(root, lines)
    side = root / "projects" / "-home-dev-work-site" / SESSION / "subagents"
    side.mkdir(parents=True)
    msg, model, inputs, output, five, hour, read = CALLS[2]
    (side / "agent-btw.jsonl").write_text(
        claude_assistant(msg, "req_replayed", model=model, input_tokens=inputs,
                         output_tokens=output, cache_5m=five, cache_1h=hour, cache_read=read,
                         sidechain=True) + "\n"
    )  # fmt: skip
    return root


def ccusage_micros(
    model: str, inputs: int, output: int, five: int, hour: int, read: int
) -> Decimal:
    """ccusage's cost of one entry: each category's tokens above 200K at the above-200K price,
    the rest at the base price; one-hour writes at 2x the input price."""
    base, above = PRICES[model]

    def tiered(count: int, index: int) -> Decimal:
        if above is None:
            return Decimal(count) * Decimal(str(base[index]))
        low, high = min(count, THRESHOLD), max(count - THRESHOLD, 0)
        return Decimal(low) * Decimal(str(base[index])) + Decimal(high) * Decimal(str(above[index]))

    return (
        tiered(inputs, 0) + tiered(output, 1) + tiered(five, 2) + tiered(read, 3)
        + Decimal(hour) * 2 * Decimal(str(base[0]))
    )  # fmt: skip


def import_fixture(ws: Workspace, root: Path) -> tuple[int, int]:
    """(total tokens, total cost in micro-USD) after importing ``root``."""
    (plan,) = ws.ledger.import_plans("claude-code", root)
    ws.ledger.run_import(plan)
    rows = ws.ledger.entries(LedgerFilter(source=CLAUDE_CODE), limit=None)
    assert len(rows) == len(CALLS)
    return sum(r.total_tokens for r in rows), sum(r.cost_micros for r in rows)


def test_against_ccusages_documented_algorithm(workspace: Workspace, tmp_path: Path) -> None:
    tokens, micros = import_fixture(workspace, write_fixture(tmp_path / "claude"))
    assert tokens == sum(sum(call[2:]) for call in CALLS)
    theirs = sum(ccusage_micros(*call[1:]) for call in CALLS)
    assert micros - theirs == LONG_CONTEXT_GAP_MICROS
    # the gap is the long request alone: every other call costs the same
    by_key = {r.dedupe_key: r.cost_micros for r in workspace.ledger.entries(LedgerFilter())}
    for msg, *rest in CALLS:
        gap = by_key[f"claude-code:{msg}"] - ccusage_micros(*rest)
        assert gap == (LONG_CONTEXT_GAP_MICROS if msg == "msg_B" else 0), msg


def _ccusage() -> str | None:
    return os.environ.get("CCUSAGE_BIN") or shutil.which("ccusage")


@pytest.mark.slow
@pytest.mark.skipif(_ccusage() is None, reason="ccusage is not installed (set CCUSAGE_BIN)")
def test_against_the_real_ccusage(workspace: Workspace, tmp_path: Path) -> None:
    root = write_fixture(tmp_path / "claude")
    done = subprocess.run(
        [str(_ccusage()), "claude", "session", "--json", "--offline"],
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(root), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    totals = json.loads(done.stdout)["totals"]
    tokens, micros = import_fixture(workspace, root)
    assert totals["totalTokens"] == tokens
    their_micros = round(Decimal(str(totals["totalCost"])) * 1_000_000)
    assert micros - their_micros == LONG_CONTEXT_GAP_MICROS
