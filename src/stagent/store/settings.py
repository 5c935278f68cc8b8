"""Repository functions for workspace settings kept in the database (key -> JSON value)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from stagent.store.tables import SettingRow


def get(session: Session, key: str, default: Any = None) -> Any:
    """The value stored under ``key`` (``default`` if none is)."""
    row = session.get(SettingRow, key)
    return default if row is None else row.value


def put(session: Session, key: str, value: Any) -> None:
    """Store ``value`` under ``key`` (insert or replace)."""
    row = session.get(SettingRow, key)
    if row is None:
        session.add(SettingRow(key=key, value=value))
    else:
        row.value = value


def delete(session: Session, key: str) -> None:
    """Remove ``key`` (nothing happens if it is not stored)."""
    row = session.get(SettingRow, key)
    if row is not None:
        session.delete(row)
