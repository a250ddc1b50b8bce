"""Timing profiles: how long a run queues, calls and is evaluated, in emulator seconds.

`fast` keeps tests and demos short. `realistic` draws each run's times from the ranges in
docs/emulator.md ("Timing profiles"), where each range names its source, or says that none
is published and why the range was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

Range = tuple[float, float]
Seconds = float | Range
"""A fixed number of seconds, or [low, high] for a uniform draw per run."""


class Profile(StrEnum):
    FAST = "fast"
    REALISTIC = "realistic"


@dataclass(frozen=True, slots=True)
class Timings:
    queue: Seconds
    """`pending` before a run may start its call."""
    call: Range
    """The call itself (`running`)."""
    evaluation: Seconds
    """`evaluating` after the call."""


TIMINGS = {
    Profile.FAST: Timings(queue=0.1, call=(2.0, 5.0), evaluation=0.2),
    Profile.REALISTIC: Timings(queue=(10.0, 180.0), call=(60.0, 300.0), evaluation=(10.0, 60.0)),
}


def span(value: Seconds) -> Range:
    """[low, high] of a number of seconds or of a range (in either order)."""
    if isinstance(value, tuple):
        low, high = float(value[0]), float(value[1])
        return (min(low, high), max(low, high))
    return (float(value), float(value))
