"""What the progress views say about a run under way: its counts in the words
docs/running.md defines, the time elapsed, and an estimate of the time left.

The executor reports a `Snapshot` at every event (a 10,000-run suite makes tens of
thousands), so taking one in is O(1) here: no run is looked at, only the snapshot's
counts. The elapsed time keeps going between snapshots (a view adds the time since the
last one), so a quiet minute still shows as a minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from specrunner.models import Outcome, Snapshot

Segment = tuple[str, str]
"""A piece of the progress line and its style on a terminal ("" for none)."""


@dataclass(frozen=True, slots=True)
class Counts:
    """A snapshot's numbers, in the words of the progress line."""

    total: int
    done: int
    """Runs with an outcome."""
    passed: int
    failed: int
    errors: int
    unknown: int
    not_run: int
    live: int
    in_flight: int
    not_needed: int = 0
    """Runs of sequential cells that were decided without them (done, never sent)."""

    @classmethod
    def of(cls, snapshot: Snapshot) -> Counts:
        outcomes = snapshot.outcomes
        return cls(
            total=snapshot.total,
            done=done_of(snapshot),
            passed=outcomes.get(Outcome.PASSED.value, 0),
            failed=outcomes.get(Outcome.FAILED.value, 0),
            errors=outcomes.get(Outcome.ERROR.value, 0),
            unknown=outcomes.get(Outcome.UNKNOWN.value, 0),
            not_run=outcomes.get(Outcome.NOT_RUN.value, 0),
            live=snapshot.live,
            in_flight=snapshot.in_flight,
            not_needed=outcomes.get(Outcome.NOT_NEEDED.value, 0),
        )


def done_of(snapshot: Snapshot) -> int:
    return sum(snapshot.outcomes.values())


@dataclass(frozen=True, slots=True)
class Reading:
    """The last snapshot as a view took it in: what it shows until the next one. Its
    counts are worked out only when it is shown, not at every event."""

    snapshot: Snapshot
    received_at: float
    """The view's clock when the snapshot came."""
    left: tuple[float, float] | None
    """The estimate of the seconds left and the elapsed time it was made at; None while
    estimating."""

    @property
    def counts(self) -> Counts:
        return Counts.of(self.snapshot)

    def elapsed_at(self, now: float) -> float:
        return self.snapshot.elapsed + max(0.0, now - self.received_at)

    def left_at(self, elapsed: float) -> float | None:
        if done_of(self.snapshot) >= self.snapshot.total:
            return 0.0
        if self.left is None:
            return None
        seconds, made_at = self.left
        return max(0.0, seconds - (elapsed - made_at))


class Estimate:
    """The time left, from the pace so far: the runs ended per second since the view's
    first snapshot, applied to the runs left.

    Runs end in waves (a wave is as many as are in flight at once), so one ended run says
    little about the pace: the estimate waits until a first wave has ended (as many runs
    as were ever in flight at once), and says "estimating" until then. Between runs
    ending, the estimate counts down. Runs already done when the view started (a resumed
    run's) do not count towards the pace."""

    __slots__ = ("_base", "_done", "_peak", "latest")

    def __init__(self) -> None:
        self._base: tuple[int, float] | None = None
        self._peak = 0
        self._done = -1
        self.latest: tuple[float, float] | None = None
        """Seconds left, and the elapsed time they were estimated at."""

    def observe(self, snapshot: Snapshot) -> None:
        done, elapsed = done_of(snapshot), snapshot.elapsed
        if self._base is None:
            self._base = (done, elapsed)
        self._peak = max(self._peak, snapshot.in_flight)
        if done == self._done:
            return
        self._done = done
        base_done, base_at = self._base
        ended = done - base_done
        wave = max(1, min(self._peak, snapshot.total - base_done))
        if ended < wave or elapsed <= base_at:
            return
        per_second = ended / (elapsed - base_at)
        self.latest = ((snapshot.total - done) / per_second, elapsed)


def duration_text(seconds: float) -> str:
    """`45s`, `1m12s`, `2h05m`: whole seconds, cut (not rounded) so that a clock ticks."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, whole = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{whole:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def left_text(seconds: float) -> str:
    """An estimate, rounded up as far as it is worth: to 5 s under a minute, else to
    the minute."""
    if seconds < 55:
        return f"about {max(5, 5 * math.ceil(seconds / 5))}s left"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"about {minutes}m left"
    return f"about {minutes // 60}h{minutes % 60:02d}m left"


def done_text(counts: Counts) -> Segment:
    return (f"{counts.done}/{counts.total} done", "bold")


def tally(counts: Counts) -> list[Segment]:
    """`3 passed, 1 failed; 3 live in Cekura, 5 in flight`: the passed always, the other
    outcomes once there are some (so a log searched for "error" finds only real ones)."""
    parts: list[Segment] = [(f"{counts.passed} passed", "green" if counts.passed else "")]
    for number, word, style in (
        (counts.failed, "failed", "red"),
        (counts.errors, "error" if counts.errors == 1 else "errors", "red"),
        (counts.unknown, "unknown", "yellow"),
        (counts.not_run, "not run", "yellow"),
        (counts.not_needed, "not needed", ""),
    ):
        if number:
            parts += [(", ", ""), (f"{number} {word}", style)]
    return [
        *parts,
        ("; ", ""),
        (f"{counts.live} live in Cekura", "cyan" if counts.live else ""),
        (f", {counts.in_flight} in flight", ""),
    ]


def times(reading: Reading, now: float) -> list[Segment]:
    """`1m12s elapsed, about 3m left` (`estimating time left` until it can say); the
    elapsed time alone once every run is done."""
    elapsed = reading.elapsed_at(now)
    parts: list[Segment] = [(f"{duration_text(elapsed)} elapsed", "")]
    if done_of(reading.snapshot) < reading.snapshot.total:
        left = reading.left_at(elapsed)
        parts += [(", ", ""), ("estimating time left" if left is None else left_text(left), "dim")]
    return parts


def plain_line(reading: Reading, now: float) -> str:
    """The progress line of a log:

    `4/11 done: 3 passed, 1 failed; 3 live in Cekura, 5 in flight; 1m12s elapsed, about
    3m left`"""
    counts = reading.counts
    segments = [
        done_text(counts),
        (": ", ""),
        *tally(counts),
        ("; ", ""),
        *times(reading, now),
    ]
    return "".join(text for text, _ in segments)
