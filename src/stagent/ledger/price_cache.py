"""The price table as last read and validated, kept in the home for the next command.

Reading the table imports YAML and pydantic and validates every model: ~0.1 s of CPU, most of
a ``stagent ledger import`` that finds a little new. The validated `PriceTable` (plain
dataclasses, `stagent.ledger.price_table`) is pickled into the home's ``cache`` folder under a
key made of the bytes of the shipped table, of the person's override file (or its absence) and
of the module that defines the table's classes: any change to one of them reads the files
again. The home is the person's own private folder (the database beside it is trusted the same
way); a file that does not load as a `PriceTable` is read again from the YAML.
"""

from __future__ import annotations

import _pickle  # pickle's C half, what `pickle` re-exports: `pickle.py` itself costs ~1.5 ms
import hashlib
import os
from pathlib import Path

from stagent.ledger import price_table
from stagent.ledger.price_table import DEFAULT_PRICES_PATH, PriceTable

PREFIX = "prices-"
SUFFIX = ".pickle"


def cached_price_table(user_file: Path, cache_dir: Path) -> PriceTable:
    """`load_price_table` with ``user_file``, from the cache in ``cache_dir`` when it holds
    this exact table (else read from the files and kept there; a cache that cannot be written
    is skipped)."""
    path = cache_dir / f"{PREFIX}{cache_key(user_file)}{SUFFIX}"
    try:
        table = _pickle.loads(path.read_bytes())
    except Exception:  # missing, unreadable or from other code: read the files
        table = None
    if isinstance(table, PriceTable):
        return table
    from stagent.ledger.prices import load_price_table

    table = load_price_table(user_file=user_file)
    _keep(path, table)
    return table


def cache_key(user_file: Path) -> str:
    """What the table depends on: the shipped table, the override file, the classes."""
    digest = hashlib.sha256()
    for source in (DEFAULT_PRICES_PATH, Path(price_table.__file__), user_file):
        try:
            digest.update(source.read_bytes())
        except OSError:
            digest.update(b"\0absent")
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _keep(path: Path, table: PriceTable) -> None:
    """Write ``table`` to ``path`` whole (or not at all), and drop the older tables."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_bytes(_pickle.dumps(table, protocol=5))
        partial.replace(path)
        for old in path.parent.glob(f"{PREFIX}*{SUFFIX}"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        return
