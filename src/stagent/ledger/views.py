"""Ledger rows as JSON-ready data (the CLI and the API show the same shape)."""

from __future__ import annotations

from typing import Any

from stagent.ledger.money import usd_text
from stagent.store.ledger import LedgerEntry


def entry_json(entry: LedgerEntry) -> dict[str, Any]:
    """One ledger row: raw tokens by category, cost in micro-USD (and USD text; null when the
    model is unpriced: its cost is unknown, not zero), provenance, source and attribution."""
    return {
        "id": entry.id,
        "task_id": entry.task_id,
        "project_id": entry.project_id,
        "activity": entry.activity,
        "runtime": entry.runtime,
        "provider": entry.provider,
        "model": entry.model,
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "cache_write_5m_tokens": entry.cache_write_5m_tokens,
        "cache_write_1h_tokens": entry.cache_write_1h_tokens,
        "cache_read_tokens": entry.cache_read_tokens,
        "reasoning_tokens": entry.reasoning_tokens,
        "cost_micros": entry.cost_micros,
        "cost_usd": None if entry.cost_source == "unpriced" else usd_text(entry.cost_micros),
        "unpriced": entry.cost_source == "unpriced",
        "cost_source": entry.cost_source,
        "pricing_version": entry.pricing_version,
        "status": entry.status,
        "note": entry.note,
        "started_at": entry.started_at.isoformat(),
        "finished_at": entry.finished_at.isoformat(),
        "source": entry.source,
        "simulated": entry.simulated,
        "session_id": entry.session_id,
        "project_path": entry.project_path,
        "total_tokens": entry.total_tokens,
    }
