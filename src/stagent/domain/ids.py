"""Identifiers and timestamps."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """A short, URL-safe, sortable-enough id such as ``tsk_4f9c2a7b1e0d``."""
    return f"{prefix}_{secrets.token_hex(6)}"


def utcnow() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


def ensure_aware(value: datetime) -> datetime:
    """Treat a naive datetime read back from a database as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
