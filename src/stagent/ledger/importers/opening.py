"""Where an import writes: straight into a ready SQLite file, or through a workspace's store.

The CLI picks one of these; it never reaches into `stagent.store` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stagent.ledger.importers.service import LogImporter

if TYPE_CHECKING:
    from stagent.ledger.prices import PriceTable
    from stagent.store.database import Store
    from stagent.store.sqlite_imports import SqliteImports


def open_plain(database_url: str) -> SqliteImports | None:
    """Imports straight into the SQLite file at ``database_url`` if it is at the newest
    migration with its owner enrolled (no workspace, no SQLAlchemy: most of the command's
    start-up); None otherwise (open the workspace, which creates or migrates it; PostgreSQL)."""
    from stagent.store.sqlite_imports import open_sqlite_imports

    return open_sqlite_imports(database_url)


def plain_importer(plain: SqliteImports, home: Path) -> LogImporter:
    """An importer writing through ``plain``, pricing with the table and the home's
    ``prices.yaml``: loaded when the first call is priced (a re-run with nothing new loads no
    table), from the home's cache when neither changed (`stagent.ledger.price_cache`). A large
    import reads in a second process as well (the CLI's process may fork)."""

    def prices() -> PriceTable:
        from stagent.ledger.price_cache import cached_price_table

        return cached_price_table(home / "prices.yaml", home / "cache")

    return LogImporter(plain, prices, parallel=True)


def store_importer(store: Store, prices: PriceTable) -> LogImporter:
    """An importer writing through a workspace's store."""
    from stagent.store.ledger_imports import StoreImports

    return LogImporter(StoreImports(store), prices)
