"""A column among a list of ids, the list sent as one parameter.

``column.in_(ids)`` renders one bound parameter per id: compiling 5,000 of them took ~8 ms of
SQLAlchemy's time per statement, and long lists had to be cut into chunks. Here the list is one
JSON text SQLite reads with ``json_each``, or one array PostgreSQL compares with ``= ANY``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, false, func, select
from sqlalchemy.sql.elements import ColumnElement

from stagent.store.ledger import Session


def among(session: Session, column: Any, ids: Sequence[str]) -> ColumnElement[bool]:
    """``column`` is one of ``ids`` (nothing matches an empty list)."""
    if not ids:
        return false()
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(String)))
    listed = func.json_each(json.dumps(list(ids))).table_valued("value")
    return column.in_(select(listed.c.value))
