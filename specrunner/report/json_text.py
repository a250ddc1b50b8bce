"""A report's items as JSON text, as results.json writes each on a line of its own.

A run's 10,000 runs are written out twice on its way to results.json: once to look for
secrets in them (`report.build`), once to write them (`report.write`). `ItemsJson` carries
the first text to the second, so that each run is written out once.
"""

from __future__ import annotations

import json
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
