"""Core inserts run straight on a driver connection (SQLite's hot writes: a budget
admission's reservation and its note), compiled once per dialect and table.

SQLAlchemy's execute machinery costs several times the insert itself on SQLite; this keeps its
SQL and its value conversions (each column type's bind processor: JSON text, timestamps as
SQLite stores them) and drops the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Table


@dataclass(frozen=True, slots=True)
class DriverInsert:
    """One table's ``INSERT`` of some columns, in the driver's parameter style."""

    sql: str
    names: tuple[str, ...]
    """The columns, in the order of the statement's positional parameters."""
    processors: tuple[Callable[[Any], Any] | None, ...]

    def params(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional parameters for ``values`` (a value per column), converted."""
        ordered = [values[name] for name in self.names]
        return [
            value if convert is None else convert(value)
            for convert, value in zip(self.processors, ordered, strict=True)
        ]


_CACHE: dict[tuple[str, str, str, tuple[str, ...]], DriverInsert] = {}


def driver_insert(dialect: Dialect, table: Table, columns: Sequence[str]) -> DriverInsert:
    """The ``INSERT`` of ``columns`` into ``table`` for ``dialect`` (a positional one:
    SQLite's), built once."""
    key = (dialect.name, dialect.driver, table.name, tuple(columns))
    found = _CACHE.get(key)
    if found is None:
        compiled = table.insert().compile(dialect=dialect, column_keys=list(columns))
        if not compiled.positional or compiled.positiontup is None:
            raise ValueError(f"{dialect.name} takes named parameters: not a driver insert's")
        names = tuple(compiled.positiontup)
        processors = tuple(
            table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
        )
        found = _CACHE[key] = DriverInsert(compiled.string, names, processors)
    return found
