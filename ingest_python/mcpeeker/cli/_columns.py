"""Fit a table to the terminal: the one way every command's tables choose their columns (`finding list`, `replay`).

Columns come in priority order and are taken while they fit the console's width (borders and padding: 3 per column
+ 1); one that does not fit is skipped, since a later, narrower one may still fit. The first column always shows
whole. A column is either cut (`cap` characters, then an ellipsis: ids, scores, dates) or wraps (`wrap`: names,
host names and attack lists go onto more lines, broken after a space or a dot, so every character stays readable
in a narrow terminal).
`wide` shows every column with whole values, wider than the terminal if it must be.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from rich.console import Console
from rich.table import Table
from rich.text import Text

Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    header: str
    value: Callable[[Row], str]
    cap: int | None = None  # the table shows at most this many characters a line (None: the whole value)
    wrap: bool = False  # a longer value goes onto more lines, broken after spaces and . - _ / : (else it is cut)
    floor: int = 0  # a wrapping column is taken at least this wide (or its whole value, if shorter)
    style: Callable[[Row], str] | None = None  # a rich style per cell; the value itself is never read as markup


# Where a wrapped value may break: after a space, or after the punctuation of host names, versions, keys and lists.
_BREAK = re.compile(r"(?<=[.\-_/:,\s])(?=[^\s])")


def _pieces(value: str) -> list[str]:
    return [p for p in _BREAK.split(value) if p]


def _fold(value: str, width: int) -> str:
    """`value` on lines of at most `width`, broken only where _BREAK allows (a longer piece is folded by rich)."""
    lines: list[str] = []
    line = ""
    for piece in _pieces(value):
        if line and len((line + piece).rstrip()) > width:
            lines.append(line.rstrip())
            line = piece
        else:
            line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def _width(column: Column[Row], values: list[str], wide: bool, least: bool = False) -> int:
    """The width the column needs: its longest value up to `cap` (`wide`: whole). `least`, for a wrapping
    column: its longest unbreakable piece, or `floor` if wider (the narrowest it is shown at)."""
    longest = max([len(column.header), *(len(v) for v in values)])
    if wide:
        return longest
    natural = longest if column.cap is None else max(len(column.header), min(longest, column.cap))
    if not least:
        return natural
    piece = max([len(column.header), *(len(p.rstrip()) for v in values for p in _pieces(v))])
    return min(natural, max(piece, column.floor))


def _choose(columns: Sequence[Column[Row]], values: list[list[str]], width: int, wide: bool) -> list[tuple[int, int]]:
    """(index of the column, its width) in priority order while the table fits `width`; `wide`: every column.
    Wrapping columns are taken at their narrowest, then share what room is left, one character at a time in
    priority order, up to their longest value (rich's own shrinking ignores minimum widths: widths are fixed here)."""
    chosen: list[tuple[int, int]] = []
    used = 1
    for i, column in enumerate(columns):
        size = _width(column, values[i], wide, least=column.wrap)
        if not wide and chosen and used + size + 3 > width:
            continue  # a later, narrower column may still fit
        chosen.append((i, size))
        used += size + 3
    if wide:
        return chosen
    sizes = [size for _i, size in chosen]
    natural = [_width(columns[i], values[i], False) for i, _size in chosen]
    spare = width - used
    while spare > 0:
        grew = False
        for n, (i, _size) in enumerate(chosen):
            if spare > 0 and columns[i].wrap and sizes[n] < natural[n]:
                sizes[n] += 1
                spare -= 1
                grew = True
        if not grew:
            break
    return [(i, size) for (i, _s), size in zip(chosen, sizes)]


def _values(rows: Sequence[Row], columns: Sequence[Column[Row]]) -> list[list[str]]:
    """Every cell's text, read once: per column, one value per row."""
    return [[column.value(row) for row in rows] for column in columns]


def choose_columns(
    rows: Sequence[Row], columns: Sequence[Column[Row]], width: int, wide: bool = False
) -> list[tuple[Column[Row], int]]:
    """Columns in priority order with their widths, while the table fits `width`; `wide`: every column."""
    return [(columns[i], size) for i, size in _choose(columns, _values(rows, columns), width, wide)]


def _table(
    rows: Sequence[Row], columns: Sequence[Column[Row]], width: int, wide: bool, title: str | None
) -> tuple[Table, int]:
    """The table and the width it needs (borders and padding included)."""
    values = _values(rows, columns)
    chosen = _choose(columns, values, width, wide)
    table = Table(title=title, title_justify="left")
    for i, size in chosen:
        if columns[i].wrap and not wide:
            table.add_column(columns[i].header, overflow="fold", min_width=size, max_width=size)
        else:
            table.add_column(columns[i].header, no_wrap=True, overflow="ellipsis", min_width=size, max_width=size)
    for r, row in enumerate(rows):
        cells = []
        for i, size in chosen:
            column, value = columns[i], values[i][r]
            text = _fold(value, size) if column.wrap and not wide else value
            cells.append(Text(text, style=column.style(row) if column.style else ""))
        table.add_row(*cells)
    return table, sum(size + 3 for _i, size in chosen) + 1


def fitted_table(
    rows: Sequence[Row], columns: Sequence[Column[Row]], width: int, wide: bool = False, title: str | None = None
) -> Table:
    return _table(rows, columns, width, wide, title)[0]


def print_fitted(
    console: Console, rows: Sequence[Row], columns: Sequence[Column[Row]], wide: bool = False, title: str | None = None
) -> None:
    table, needed = _table(rows, columns, console.width, wide, title)
    if not wide:
        console.print(table)
        return
    # Every column whole: wider than the terminal if it must be, never squeezed.
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width
