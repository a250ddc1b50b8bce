"""A report as JSON text: each of its items as results.json writes it on a line of its
own (`item_json`), and the whole as canonical JSON (`canonical_json`), whose hash is the
report's identity in the history.

A run's 10,000 runs are written out twice on their way to results.json: once to look for
secrets in them (`report.build`), once to write them (`report.write`). `ItemsJson` carries
the first text to the second, so that each run is written out once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final


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


def canonical_pieces(report: object) -> Iterator[str]:
    """`canonical_json(report)` in pieces that join to it: a long list of the report (its
    runs) a thousand items at a time, so that a 10,000-run report's 10 MB of text is never
    held whole. A value that is not an object with string keys comes in one piece."""
    if not isinstance(report, dict) or not all(type(key) is str for key in report):
        yield canonical_json(report)
        return
    yield "{"
    for position, key in enumerate(sorted(report)):
        value = report[key]
        yield ("," if position else "") + canonical_json(key) + ":"
        if isinstance(value, list) and len(value) > _BATCH:
            yield "["
            for start in range(0, len(value), _BATCH):
                items = canonical_json(value[start : start + _BATCH])[1:-1]
                yield ("," if start else "") + items
            yield "]"
        else:
            yield canonical_json(value)
    yield "}"
