"""Durations in suites: an integer of seconds, or `90s`, `10m`, `1h30m`."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^(?=[0-9])(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")


def parse_duration(value: int | str) -> float | None:
    """Seconds, or None when `value` is not a duration (or is zero)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if value > 0 else None
    match = _DURATION.match(value.strip())
    if match is None:
        return None
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    return float(total) if total > 0 else None


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs or not (hours or minutes) else "",
    ]
    return "".join(parts)
