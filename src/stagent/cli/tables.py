"""Tables that fit the terminal without cutting a word: low-value columns go first when the
terminal is narrow (Rich cuts a word, "anthrop…", or folds it, "regio/nal", only when a column
is narrower than its longest word; wrapping between words is fine)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Column, Table

WRAP_ALLOWANCE = 1.25
"""How much wider than the terminal a table may be unwrapped and still keep every column:
a little wrapping between words (a name on two lines) reads better than a column gone."""


def fit_columns(console: Console, table: Table, droppable: Sequence[str]) -> list[str]:
    """Drop ``droppable`` columns of ``table`` (by header, in that order) while the table,
    unwrapped, is more than `WRAP_ALLOWANCE` times as wide as ``console``, or its longest words
    side by side do not fit; the headers dropped, in order (say where to see them). What is
    left wraps between words only."""
    dropped: list[str] = []
    for header in droppable:
        natural = _natural_width(console, table)
        if natural <= console.width * WRAP_ALLOWANCE and _words_fit(console, table, natural):
            break
        table.columns = [c for c in table.columns if c.header != header]
        dropped.append(header)
    _fix_widths(console, table)
    return dropped


def _fix_widths(console: Console, table: Table) -> None:
    """Give each column a width no less than its longest word, taking from the widest
    wrapping column first, when the table does not fit unwrapped (Rich's own squeeze narrows
    the widest columns past their longest word). Left to Rich if even that does not fit."""
    spans = [_span(console, column) for column in table.columns]
    widths = [most for _, most in spans]
    room = console.width - (_natural_width(console, table) - sum(widths))
    while sum(widths) > room:
        narrower = [
            i
            for i, column in enumerate(table.columns)
            if not column.no_wrap and widths[i] > spans[i][0]
        ]
        if not narrower:
            return
        widths[max(narrower, key=lambda i: widths[i])] -= 1
    for column, width, (_, most) in zip(table.columns, widths, spans, strict=True):
        if width < most:
            column.width = width


def _words_fit(console: Console, table: Table, natural: int) -> bool:
    """Whether every column can be as wide as its longest word on ``console``."""
    spans = [_span(console, column) for column in table.columns]
    overhead = natural - sum(most for _, most in spans)
    return sum(least for least, _ in spans) + overhead <= console.width


def _span(console: Console, column: Column) -> tuple[int, int]:
    """A column's (longest word, widest cell) without its padding, header included."""
    options = console.options.update(width=10**6)
    found = [Measurement.get(console, options, cell) for cell in [column.header, *column.cells]]
    return max(m.minimum for m in found), max(m.maximum for m in found)


def _natural_width(console: Console, table: Table) -> int:
    """The table's width with no cell wrapped."""
    options = console.options.update(width=10**6)
    return Measurement.get(console, options, table).maximum
