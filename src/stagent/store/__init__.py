"""Persistence: the only package that imports SQLAlchemy."""

from stagent.store.database import Store

__all__ = ["Store"]
