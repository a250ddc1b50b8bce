"""Fit text a person reads to a width: never cut, only broken where a reader expects it.

JSON is broken after the `, ` between its items (never inside a string while a break
between items fits), a list of fields between its fields. A piece longer than a whole
line is split where it must, so nothing is ever left out. A width of None means one line,
whatever its length (`--wide`).

Secrets are masked before text is wrapped, not after: a secret broken over two lines would
escape a mask applied to the wrapped text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

DEFAULT_WIDTH = 100
"""Columns when the output is not a terminal (a file, a pipe, CI) and COLUMNS is unset."""
MIN_WIDTH = 40
"""Narrower terminals are laid out as if 40 columns wide (the terminal wraps the rest)."""
MIN_COLUMN = 24
"""The narrowest column a value is wrapped into, however deep it is indented."""


def output_width(stream: TextIO, environ: Mapping[str, str] | None = None) -> int:
    """The columns to lay text out in for `stream`: COLUMNS when it is set (as `ls` and
    pytest read it), else the terminal's width, else DEFAULT_WIDTH."""
    environ = os.environ if environ is None else environ
    columns = environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    try:
        if stream.isatty():
            return max(MIN_WIDTH, os.get_terminal_size(stream.fileno()).columns)
    except (AttributeError, OSError, ValueError):
        pass
    return DEFAULT_WIDTH


def json_line(value: Any) -> str:
    """`value` as one line of JSON, as the plan shows it (`{"a": 1, "b": [2, 3]}`)."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def json_pieces(text: str) -> list[str]:
    """One-line JSON split after each `, ` that separates items (not one inside a string),
    so that joining the pieces gives `text` back."""
    pieces: list[str] = []
    start = 0
    in_string = escaped = False
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == " " and index > 0 and text[index - 1] == ",":
            pieces.append(text[start : index + 1])
            start = index + 1
    pieces.append(text[start:])
    return [piece for piece in pieces if piece]


def field_pieces(fields: Iterable[str], separator: str = "  ") -> list[str]:
    """Fields to lay out on a line, `separator` between them, broken between fields."""
    listed = [field for field in fields if field]
    return [field + separator for field in listed[:-1]] + listed[-1:]


def pack(pieces: Sequence[str], width: int | None, rest: int | None = None) -> list[str]:
    """The pieces joined into lines of at most `width` characters (`rest` for the lines
    after the first, when given), trailing spaces dropped, breaking between pieces, and
    inside one only when it is longer than a line. One line when `width` is None."""
    if width is None:
        return ["".join(pieces).rstrip()]
    limits = (max(1, width), max(1, width if rest is None else rest))
    lines: list[str] = []
    line = ""
    for piece in _fitting(pieces, min(limits)):
        limit = limits[bool(lines)]
        if line and len(line) + len(piece.rstrip()) > limit:
            lines.append(line.rstrip())
            line, limit = "", limits[1]
        while len(line) + len(piece.rstrip()) > limit:  # longer than a whole line
            room = limit - len(line)
            lines.append(line + piece[:room])
            line, piece, limit = "", piece[room:], limits[1]
        line += piece
    if line.rstrip() or not lines:
        lines.append(line.rstrip())
    return lines


def _fitting(pieces: Sequence[str], limit: int) -> list[str]:
    """The pieces, each longer than `limit` broken at its spaces (a long string in JSON,
    a long field) before anything is cut."""
    fitting: list[str] = []
    for piece in pieces:
        if len(piece.rstrip()) > limit:
            fitting += _WORDS.findall(piece)
        else:
            fitting.append(piece)
    return fitting


_WORDS = re.compile(r"\s*\S+\s*")


def hanging(pieces: Sequence[str], width: int | None, first: str, rest: str) -> list[str]:
    """The pieces packed after `first` on the first line and after `rest` on the next ones,
    within `width` in all (each line keeps at least MIN_COLUMN for the pieces)."""
    if width is None:
        return [first + pack(pieces, None)[0]]
    lines = pack(pieces, max(MIN_COLUMN, width - len(first)), max(MIN_COLUMN, width - len(rest)))
    return [first + lines[0], *(rest + line for line in lines[1:])]
