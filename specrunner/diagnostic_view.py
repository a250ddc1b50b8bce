"""How a located error is shown: its message, then the line it points at, with a caret.

    specs/smoke.yaml:12:11: unknown room 'labb'; did you mean 'lab'? (rooms: lab)
       |
    12 |     room: labb
       |           ^

as rustc and Hurl show theirs, so that a reader of a long suite sees what is meant without
opening the file. A hint, when the usual cause is known, follows as `= hint: ...`.

What reaches the terminal is safe to show: control and bidi characters are escapes
(`specrunner.text.visible`), every environment value given as a secret is `***` even where
the suite holds it literally, and a long line is cut around the column (with `...`), so
that a line of megabytes prints as one short line. The caret stays under its character:
tabs are shown as four spaces, wide characters (CJK, most emoji) count two columns,
combining marks none.

Colour only for a terminal: `wants_colour` says no when the stream is not a terminal,
when NO_COLOR is set to anything (https://no-color.org) or when TERM is `dumb`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from specrunner.errors import Diagnostic
from specrunner.masking import MASK
from specrunner.text import visible

WIDTH = 100  # columns of the source line shown at most (ellipses aside)
TAB = "    "
ELLIPSIS = "..."

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_RED = "\x1b[1;31m"
_BLUE = "\x1b[1;34m"
_CYAN = "\x1b[1;36m"


class _Stream(Protocol):
    def isatty(self) -> bool: ...


def wants_colour(stream: _Stream, environ: Mapping[str, str]) -> bool:
    """Whether to colour what is written to `stream`."""
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (OSError, ValueError):  # a closed or detached stream
        return False


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A source line as shown, and how many columns of it stand before the caret."""

    text: str
    caret: int


@dataclass(frozen=True, slots=True)
class _Piece:
    """What one character (or one masked secret) of the line shows as, and its width."""

    start: int  # index in the line
    end: int
    shown: str
    width: int


def excerpt(line: str, col: int, secrets: Collection[str] = (), width: int = WIDTH) -> Excerpt:
    """`line` as shown under a message pointing at column `col` (1-based; a column past the
    end points just after the last character)."""
    index = min(max(col, 1), len(line) + 1) - 1
    longest = max((len(s) for s in secrets), default=0)
    # Only the characters around the column are looked at, however long the line: enough
    # to fill `width` columns on either side, and any secret that reaches into them.
    reach = 2 * width + longest
    low, high = max(0, index - reach), min(len(line), index + reach + 1)
    masks = _masks(line, low, high, secrets)
    # A secret cut by `low` or `high` could show a part of itself: no character that may
    # belong to one is shown.
    first = low + longest if low > 0 else 0
    last = high - longest if high < len(line) else len(line)
    start = next((s for s, e in masks.items() if s <= index < e), index)
    before = _leftwards(line, start, first, {e: s for s, e in masks.items()}, 2 * width)
    pieces = [*reversed(before), *_rightwards(line, start, last, masks, 2 * width)]
    at = len(before)
    left, right = _window(pieces, at, width)
    shown = pieces[left:right]
    prefix = ELLIPSIS if shown and shown[0].start > 0 else ""
    suffix = ELLIPSIS if shown and shown[-1].end < len(line) else ""
    text = prefix + "".join(p.shown for p in shown) + suffix
    caret = len(prefix) + sum(p.width for p in pieces[left:at])
    return Excerpt(text.rstrip(), caret)


def _rightwards(
    line: str, start: int, stop: int, masks: Mapping[int, int], count: int
) -> list[_Piece]:
    """At most `count` pieces of line[start:stop], in order."""
    pieces: list[_Piece] = []
    i = start
    while i < stop and len(pieces) < count:
        end = masks.get(i)
        pieces.append(_Piece(i, end, MASK, len(MASK)) if end else _char(line[i], i))
        i = end or i + 1
    return pieces


def _leftwards(
    line: str, start: int, stop: int, starts: Mapping[int, int], count: int
) -> list[_Piece]:
    """At most `count` pieces of line[stop:start], nearest first (`starts`: where the
    secret that ends at an index begins)."""
    pieces: list[_Piece] = []
    i = start
    while i > stop and len(pieces) < count:
        begin = starts.get(i)
        if begin is None:
            pieces.append(_char(line[i - 1], i - 1))
            i -= 1
        else:
            pieces.append(_Piece(begin, i, MASK, len(MASK)))
            i = begin
    return pieces


def _window(pieces: list[_Piece], at: int, width: int) -> tuple[int, int]:
    """The pieces to show, [left, right): the caret's, about a third of `width` before it,
    and as many after as fit, then more before if the line ends first."""
    left, right, used = at, at, 0

    def fits(piece: _Piece) -> bool:
        return used + piece.width <= width

    while left > 0 and used + pieces[left - 1].width <= width // 3:
        left -= 1
        used += pieces[left].width
    while right < len(pieces) and (right == at or fits(pieces[right])):
        used += pieces[right].width
        right += 1
    while left > 0 and fits(pieces[left - 1]):
        left -= 1
        used += pieces[left].width
    return left, right


def _masks(line: str, low: int, high: int, secrets: Collection[str]) -> dict[int, int]:
    """Where each secret stands in line[low:high]: start to end (indexes in `line`), the
    longest first where they overlap."""
    values = sorted({s for s in secrets if s}, key=len, reverse=True)
    if not values:
        return {}
    pattern = re.compile("|".join(re.escape(v) for v in values))
    return {m.start(): m.end() for m in pattern.finditer(line, low, high)}


def _masked(text: str, secrets: Collection[str]) -> str:
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def _char(ch: str, index: int) -> _Piece:
    if ch == "\t":
        return _Piece(index, index + 1, TAB, len(TAB))
    shown = visible(ch)
    if shown != ch:
        return _Piece(index, index + 1, shown, len(shown))
    return _Piece(index, index + 1, ch, _width(ch))


def _width(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def render(
    diagnostic: Diagnostic,
    line: str | None,
    *,
    colour: bool = False,
    secrets: Collection[str] = (),
) -> list[str]:
    """The lines that show `diagnostic`: its message, then (when `line`, the text of its
    line, is known) the line with a caret under the column, then its hint; a blank line
    ends a diagnostic shown with more than its message. Each of `secrets` shows as ***,
    in the line and in the message alike."""

    def paint(style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if colour else text

    def say(text: str) -> str:
        return visible(_masked(text, secrets))

    where = visible(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.col}:")
    lines = [f"{paint(_BOLD, where)} {say(diagnostic.message)}"]
    number = str(diagnostic.line)
    pad = " " * len(number)
    if line is not None:
        shown = excerpt(line, diagnostic.col, secrets)
        lines.append(paint(_BLUE, f"{pad} |"))
        lines.append(paint(_BLUE, f"{number} |") + (f" {shown.text}" if shown.text else ""))
        lines.append(paint(_BLUE, f"{pad} |") + " " * (shown.caret + 1) + paint(_RED, "^"))
    if diagnostic.hint:
        lines.append(f"{pad} {paint(_CYAN, '= hint:')} {say(diagnostic.hint)}")
    if len(lines) > 1:
        lines.append("")
    return lines


def error_label(colour: bool) -> str:
    """`error:`, in red on a terminal."""
    return f"{_RED}error:{_RESET}" if colour else "error:"


def count_line(text: str, colour: bool) -> str:
    """The closing count of a suite's errors (`2 errors in a.yaml`), in red on a terminal."""
    return f"{_RED}{visible(text)}{_RESET}" if colour else visible(text)
