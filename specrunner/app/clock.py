"""The time as specrunner writes it down: UTC, to the second, in ISO 8601 with a Z.

Its own module, importing nothing of specrunner: a run stamps its start long before it
needs any of the report code that stamps its end (`app.reports`).
"""

from __future__ import annotations

import datetime


def now_iso() -> str:
    """`2024-05-01T12:00:00Z`: now."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
