"""When to poll next.

At the poll interval, slower while nothing changes (long calls), and faster while live
runs are as old as the runs of this suite have been when they ended: a run that ends is
then seen soon after, and its room goes to the next run at once rather than at the next
interval. Each poll is still one bulk request per 100 live runs.

What a poll tells of a run's duration is a span: it was still live at the age of the last
poll that saw it live, and it had ended by the age of the poll that found it final. The
lower ends of those spans are what the cadence goes by: a run is always at least as long
as it was seen live, so an estimate made from them is never late, and where it is early
the poll it brings sees the run live and raises the estimate to just below the truth.
(The middle of each span, the other choice, stays high for as long as the polls land
after the ends, since nothing then shows that the runs ended sooner.)
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
FASTEST_SHARE = 16
"""Near expected ends, poll up to this many times as often as the interval (for 0.5 s
calls at a 0.25 s interval, a run's end is then seen about 7 ms sooner each wave than at
8 times, for about 1.6 times the GETs)..."""
DURATION_SHARE = 40
"""...but not more often than once per this share of the shortest duration seen: for calls
of minutes the interval is already a small part of a call, so it stays as it is."""
YOUNG_SHARE = 8
"""Before any run has ended, poll when the oldest live run's age has grown by this share."""
MARGIN, MARGIN_SHARE = 0.02, 0.02
"""Runs are due this long (0.02 s, or 2% of the duration, the longer) after the age they
were typically last seen live at."""


class Cadence:
    def __init__(self, shortest: float) -> None:
        self.shortest = shortest
        self.interval = shortest
        self._quiet = 0
        self._hurried = False
        """Whether the last poll asked for came before the interval was up."""
        self._poll_from = 0.0
        """What `poll_from` answers for the last poll asked for."""
        self._live_for: deque[float] = deque(maxlen=SEEN)
        """For each of the latest ended runs, the longest it was seen live (a lower bound
        of its duration)."""
        self._ended_by: deque[float] = deque(maxlen=SEEN)
        """For each of them, the age it was found ended at (an upper bound)."""
        self._sorted: tuple[list[float], list[float]] | None = None
        """Both, sorted: made again only after runs ended (a large suite asks when to
        poll many times between two polls that see runs end)."""

    def ended(self, submitted: float, live_at: float, found_at: float) -> None:
        """A run submitted at `submitted` was last seen live by the poll at `live_at` (or
        never: then `submitted`) and found ended by the poll at `found_at`."""
        self._ended_by.append(max(found_at - submitted, 0.0))
        if live_at > submitted:
            self._live_for.append(live_at - submitted)
        self._sorted = None

    def ticked(self, changed: bool) -> None:
        """After a poll: back to the shortest interval when something changed; after
        QUIET_POLLS quiet polls at the interval, slower, up to SLOWEST times the shortest."""
        if changed:
            self._quiet = 0
        elif not self._hurried:  # polls brought forward near expected ends do not count
            self._quiet += 1
        if self._quiet < QUIET_POLLS:
            self.interval = self.shortest
        else:
            self.interval = min(self.interval * 1.5, self.shortest * SLOWEST)

    def next_poll(self, last: float, now: float, submitted: Iterable[float]) -> float:
        """When to poll next (on the executor's clock), the last poll having been at
        `last`, for live runs submitted at the times `submitted`. Asked again as runs are
        submitted, so a wave sent just after a poll is not left to the interval."""
        at, worth_from = self._next_poll(last, now, submitted)
        self._hurried = at < last + self.interval
        self._poll_from = worth_from if self._hurried else 0.0
        return at

    def poll_from(self) -> float:
        """The age from which live runs are worth asking about in the next poll: all of
        them (0) at the interval; in a poll brought forward, only those as old as runs
        have been seen live for (younger ones are still going, as far as is known), or,
        before any has ended, those within an eighth of the oldest's age."""
        return self._poll_from

    def _low(self) -> float:
        """The median of the ages runs were last seen live at (a lower bound of their
        lengths)."""
        live_for = self._both_sorted()[0]
        return live_for[(len(live_for) - 1) // 2]

    def _both_sorted(self) -> tuple[list[float], list[float]]:
        if self._sorted is None:
            self._sorted = (sorted(self._live_for), sorted(self._ended_by))
        return self._sorted

    def _next_poll(
        self, last: float, now: float, submitted: Iterable[float]
    ) -> tuple[float, float]:
        """When to poll next, and from what age live runs are worth asking about then if
        that is before the interval is up."""
        regular = last + self.interval
        if len(self._ended_by) < MIN_SEEN:
            young, oldest = self._before_any_ended(last, now, submitted)
            return min(regular, young), oldest * (YOUNG_SHARE - 1) / YOUNG_SHARE
        ended_by = self._both_sorted()[1]
        high = ended_by[(len(ended_by) - 1) * 9 // 10]  # the 90th percentile
        # The median of the lower bounds: near the truth for calls of one length, and for
        # calls of many, the age at which half of them are still going. (When every run
        # ended before a poll saw it live, they are shorter than half the median span.)
        seen_live = self._low() if self._live_for else 0.0
        low = seen_live if self._live_for else ended_by[(len(ended_by) - 1) // 2] / 2
        fast = min(self.shortest, max(self.shortest / FASTEST_SHARE, low / DURATION_SHARE))
        # A little after the estimate, so that a run of exactly the usual length has ended.
        start = low + max(MARGIN, low * MARGIN_SHARE)
        due = float("inf")
        for since in submitted:
            age = now - since
            if start <= age <= high + self.shortest:
                # as old as runs were when they ended
                return min(regular, last + fast), seen_live
            if age < start:
                due = min(due, since + start)
        if due - regular < fast:  # a regular poll just before runs are due would miss them
            return max(last + fast, due), seen_live
        return min(regular, max(last + fast, due)), seen_live

    def _before_any_ended(
        self, last: float, now: float, submitted: Iterable[float]
    ) -> tuple[float, float]:
        """Before runs have been seen to end, their length is unknown: the oldest live run
        is polled each time its age grows by an eighth (at most every eighth of the
        interval, at least every interval), so that short calls are seen within an eighth
        of their length, and calls of minutes cost a few polls more while they are young.
        Also the oldest live run's age (0 when none is live)."""
        oldest = max((now - since for since in submitted), default=None)
        if oldest is None:
            return float("inf"), 0.0
        fast = self.shortest / YOUNG_SHARE
        return last + min(self.interval, max(fast, oldest / YOUNG_SHARE)), oldest
