"""Persistence: the only package that imports SQLAlchemy.

Importing the package imports nothing (``stagent.store.sqlite_reads`` must load without
SQLAlchemy); ``from stagent.store import Store`` still works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stagent.store.database import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from stagent.store.database import Store

        return Store
    raise AttributeError(name)
