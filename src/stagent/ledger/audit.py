"""A task's audit trail: every provider call (tokens by category, cost, where the figure came
from) interleaved with its tool requests, decisions, status changes and errors, in time order.
A call booked from estimated tokens says so (``estimated``, and why, in its summary)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from stagent.domain.events import LoggedEvent
from stagent.ledger.money import usd_text
from stagent.ledger.views import entry_json
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerEntry

AUDITED_EVENTS = frozenset(
    {"tool_request", "tool_result", "approval", "decision", "status", "error", "note", "recovered"}
)


def audit(store: Store, task_id: str) -> dict[str, Any]:
    """The task (id, title, runtime, status), its totals and its trail."""
    with store.read() as session:
        task = task_repo.get(session, task_id)
        calls = ledger_repo.list_entries(
            session, ledger_repo.LedgerFilter(task_id=task.id), limit=None, oldest_first=True
        )
        events = [
            e for e in event_repo.for_task(session, task.id, limit=20_000)
            if e.kind in AUDITED_EVENTS
        ]  # fmt: skip
    items = [_call_item(call) for call in calls] + [_event_item(event) for event in events]
    items.sort(key=lambda item: (item["at"], item["order"]))
    spent = [c for c in calls if c.status in ("completed", "failed", "cancelled")]
    total = sum(c.cost_micros for c in spent)
    return {
        "task": {
            "id": task.id,
            "title": task.title,
            "runtime": task.runtime,
            "status": task.status.value,
        },
        "requests": len(spent),
        "total_tokens": sum(c.total_tokens for c in spent),
        "total_cost_micros": total,
        "total_cost_usd": usd_text(total),
        "unpriced_requests": sum(1 for c in spent if c.cost_source == "unpriced"),
        "estimated_requests": sum(1 for c in spent if c.cost_source == "estimated"),
        "simulated": any(c.simulated for c in spent),
        "items": items,
    }


def _call_item(call: LedgerEntry) -> dict[str, Any]:
    raw = call.raw or {}
    duration = raw.get("duration_ms")
    data = entry_json(call)
    return {
        "at": call.finished_at.isoformat(),
        "order": 1,
        "type": "call" if call.status not in ("reserved", "released", "blocked") else call.status,
        "summary": call_summary(data, _usd_words),
        "duration_ms": duration if isinstance(duration, int) else None,
        "call": data,
    }


def _usd_words(micros: int) -> str:
    return f"{usd_text(micros)} USD"


def call_summary(call: Mapping[str, Any], money: Callable[[int], str]) -> str:
    """One call of the trail as a line (``call`` as `entry_json` gives it): model, tokens, cost
    written by ``money`` (the JSON's exact ``0.0042 USD``; the CLI's `shown_usd`), where the
    figure came from; a hold or a refusal by budget says so."""
    status, source, micros = call["status"], call["cost_source"], int(call["cost_micros"])
    if status == "blocked":
        return f"blocked by budget: {call.get('note') or ''}".strip()
    if status in ("reserved", "released"):
        return f"budget {status}: {money(micros)}"
    cost = "unpriced" if source == "unpriced" else money(micros)
    summary = f"{call.get('model') or '?'}: {call['total_tokens']} tokens, {cost} ({source})"
    note = call.get("note")
    if source == "estimated" and note:
        summary += f" - {str(note).removeprefix('ESTIMATED: ')}"
    return summary


def _event_item(event: LoggedEvent) -> dict[str, Any]:
    at = event.created_at.isoformat() if event.created_at else ""
    decided = event.kind == "note" and "allowed" in event.payload
    return {
        "at": at,
        "order": 0,
        "type": "decision" if decided else event.kind,
        "summary": event.summary,
        "duration_ms": None,
        "seq": event.seq,
    }


CSV_COLUMNS = (
    "id", "finished_at", "source", "runtime", "provider", "model", "task_id", "project_id",
    "project_path", "session_id", "status", "simulated", "input_tokens", "output_tokens",
    "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens", "reasoning_tokens",
    "total_tokens", "cost_micros", "cost_usd", "cost_source", "pricing_version", "note",
)  # fmt: skip


def write_csv(entries: Iterable[LedgerEntry], out: TextIO) -> int:
    """Write ledger rows as CSV (one header row); returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for entry in entries:
        data = entry_json(entry)
        data.update(
            project_path=entry.project_path,
            session_id=entry.session_id,
            total_tokens=entry.total_tokens,
        )
        writer.writerow([_cell(data.get(column)) for column in CSV_COLUMNS])
        count += 1
    return count


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    # a cell a spreadsheet would run as a formula is quoted as text
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
