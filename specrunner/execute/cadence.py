"""When to poll next.

At the poll interval, slower while nothing changes (long calls), and faster while live
runs are as old as the runs of this suite have been when they ended: a run that ends is
then seen soon after, and its room goes to the next run at once rather than at the next
interval. Each poll is still one bulk request per 100 live runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

QUIET_POLLS = 20
"""Polls in a row that change nothing before the interval grows."""
SLOWEST = 8
"""The interval grows up to this many times the shortest."""
SEEN = 256
"""How many of the latest ended runs the expected durations come from."""
MIN_SEEN = 3
"""Ended runs needed before durations are expected at all."""
FASTEST_SHARE = 4
"""Near expected ends, poll up to this many times as often as the interval..."""
DURATION_SHARE = 40
"""...but not more often than once per this share of the shortest duration seen: for calls
of minutes the interval is already a small part of a call, so it stays as it is."""
MARGIN, MARGIN_SHARE = 0.05, 0.05
"""Runs are due this long (0.05 s, or 5% of the duration, the longer) after the shortest
duration seen: the estimate is the middle of the polls around each end."""


class Cadence:
    def __init__(self, shortest: float) -> None:
        self.shortest = shortest
        self.interval = shortest
        self._quiet = 0
        self._durations: deque[float] = deque(maxlen=SEEN)

    def ended(self, submitted: float, live_at: float, found_at: float) -> None:
        """A run submitted at `submitted` was last seen live by the poll at `live_at` (or
        never: then `submitted`) and found ended at `found_at`. It ended in between: at
        the middle when a poll saw it live; else, as polls come every quarter interval near
        the ends of runs, in the last of those (which moves an estimate that was too long
        down, where the middle of a span that starts at the submission would halve it)."""
        if live_at > submitted:
            end = (live_at + found_at) / 2
        else:
            end = found_at - min(found_at - submitted, self.shortest / FASTEST_SHARE) / 2
        self._durations.append(max(end - submitted, 0.0))

    def ticked(self, changed: bool) -> None:
        """After a poll: back to the shortest interval when something changed; after
        QUIET_POLLS quiet polls, slower, up to SLOWEST times the shortest."""
        self._quiet = 0 if changed else self._quiet + 1
        if self._quiet < QUIET_POLLS:
            self.interval = self.shortest
        else:
            self.interval = min(self.interval * 1.5, self.shortest * SLOWEST)

    def next_poll(self, last: float, now: float, submitted: Iterable[float]) -> float:
        """When to poll next (on the executor's clock), the last poll having been at
        `last`, for live runs submitted at the times `submitted`. Asked again as runs are
        submitted, so a wave sent just after a poll is not left to the interval."""
        regular = last + self.interval
        if len(self._durations) < MIN_SEEN:
            return regular
        ordered = sorted(self._durations)
        # Each duration is estimated at the middle of the polls around its end: the median
        # of them is near the truth, where a low percentile picks the worst guesses.
        low = ordered[(len(ordered) - 1) // 2]
        high = ordered[(len(ordered) - 1) * 9 // 10]  # the 90th percentile
        fast = min(self.shortest, max(self.shortest / FASTEST_SHARE, low / DURATION_SHARE))
        # A little after the estimate, so that a run of exactly the usual length has ended.
        start = low + max(MARGIN, low * MARGIN_SHARE)
        due = float("inf")
        for since in submitted:
            age = now - since
            if start <= age <= high + self.shortest:
                return min(regular, last + fast)  # as old as runs were when they ended
            if age < start:
                due = min(due, since + start)
        if due - regular < fast:  # a regular poll just before runs are due would miss them
            return max(last + fast, due)
        return min(regular, max(last + fast, due))
