"""A report as JSON text: each of its items as results.json writes it on a line of its
own (`item_json`), and the whole as canonical JSON (`canonical_json`), whose hash is the
report's identity in the history.

A run's 10,000 runs are written out twice on their way to results.json: once to look for
secrets in them (`report.build`), once to write them (`report.write`). `ItemsJson` carries
the first text to the second, so that each run is written out once. It also shows that
its items are plain JSON data with finite numbers (`item_json` refuses anything else), so
that their canonical text may be written by orjson, in a fifth of the time, wherever it is
byte for byte json's (`canonical_pieces`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson


def item_json(value: object) -> str:
    """`value` as JSON on one line, as a report's file writes its items; a NaN or an
    infinity is a ValueError, never invalid JSON written."""
    return _ITEMS.encode(value)


_ITEMS: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)
"""`json.dumps(value, ensure_ascii=False, allow_nan=False)`, made once. A report is JSON
data, read from a file or built from records, with no cycle to look for (one would end
in a RecursionError rather than a ValueError)."""


@dataclass(frozen=True, slots=True)
class ItemsJson:
    """The JSON text (`item_json`) of each item of one list of a report, as it was when it
    was written out."""

    items: list[Any]
    """The list itself, not a copy: the texts are of this list and no other."""
    texts: tuple[str, ...]

    @classmethod
    def of(cls, items: list[Any]) -> ItemsJson:
        return cls(items, tuple(item_json(item) for item in items))

    def texts_of(self, value: object) -> tuple[str, ...] | None:
        """The texts, when `value` is the list they were written from (and still holds as
        many items); else None, and the caller writes `value` itself."""
        if value is self.items and len(self.items) == len(self.texts):
            return self.texts
        return None


def canonical_json(value: object) -> str:
    """`value` as canonical JSON: keys sorted, no spaces, non-ASCII as it is."""
    return _CANONICAL.encode(value)


_CANONICAL: Final = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False
)
"""`json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`, made
once and without looking for cycles (a report is JSON data)."""

_BATCH: Final = 1000


def canonical_pieces(report: object, runs: ItemsJson | None = None) -> Iterator[bytes]:
    """`canonical_json(report)` in UTF-8, in pieces that join to it: a long list of the
    report (its runs) a thousand items at a time, so that a 10,000-run report's 10 MB of
    text is never held whole. A value that is not an object with string keys comes in
    one piece. When `runs` holds the texts of that long list, its pieces are written by
    orjson (see `_canonical_items`)."""
    if not isinstance(report, dict) or not all(type(key) is str for key in report):
        yield canonical_json(report).encode("utf-8")
        return
    yield b"{"
    for position, key in enumerate(sorted(report)):
        value = report[key]
        yield ("," if position else "").encode() + canonical_json(key).encode("utf-8") + b":"
        if isinstance(value, list) and len(value) > _BATCH:
            plain = runs is not None and runs.texts_of(value) is not None
            yield b"["
            for start in range(0, len(value), _BATCH):
                items = _canonical_items(value[start : start + _BATCH], plain=plain)
                yield (b"," if start else b"") + items
            yield b"]"
        else:
            yield canonical_json(value).encode("utf-8")
    yield b"}"


def _canonical_items(items: list[Any], *, plain: bool) -> bytes:
    """The canonical text of `items`, without its brackets, in UTF-8.

    Of `plain` items (written out by `item_json`: JSON data, every number finite), orjson
    writes the same bytes as json, but for floats under 1e-4 (json writes 1e-05 where
    orjson writes 0.00001, and 1e-07 where it writes 1e-7): a text showing one (or
    anything like one, in a string) is written by json instead, as is anything orjson
    refuses (an integer beyond 64 bits, a lone surrogate, deep nesting)."""
    if plain:
        try:
            text = orjson.dumps(items, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass
        else:
            if b"0.0000" not in text and (b"e-" not in text or not _TINY.search(text)):
                return text[1:-1]
    return canonical_json(items)[1:-1].encode("utf-8")


_TINY: Final = re.compile(rb"[0-9]e-")
"""A float under 1e-5 as orjson writes it (1e-7); from 1e-5 up it writes 0.0000... The
plain searches before it are ten times as fast as a regular expression."""
