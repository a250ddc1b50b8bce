"""Progress while a suite runs: a live bar on a terminal (`live_progress`), plain lines at
a steady pace elsewhere (CI logs). Both show the executor's `Snapshot`s in the words
docs/running.md defines, and print a snapshot's message (which may quote a server) as it
comes, with its control and bidi characters escaped.

Plain lines: one at each change of the counts, but at most one every `every` seconds (a
change within that time is printed when it is over), at least one every `heartbeat`
seconds while the run goes on, and the last state when the view closes. The clock is
injected, and `tick()` (which a thread calls every second once `start()`ed) is what
prints on time, so tests drive the pace with a fake clock and no thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol, TextIO

from specrunner.models import Snapshot
from specrunner.report.progress_state import Estimate, Reading, plain_line
from specrunner.text import visible

EVERY = 5.0
"""Seconds between plain lines at least: a CI log of a long run stays readable."""
HEARTBEAT = 10.0
"""Seconds between plain lines at most, while the run goes on, changes or not."""
TICK = 1.0


class ProgressView(Protocol):
    def update(self, snapshot: Snapshot) -> None: ...

    def note(self, line: str) -> None:
        """A line of its own (escaped), above the progress."""

    def close(self) -> None: ...


def progress_view(stream: TextIO, *, interactive: bool) -> ProgressView:
    """The live bar on a terminal, plain lines (ticking on a thread of their own)
    elsewhere."""
    if interactive:
        from specrunner.report.live_progress import LiveProgress  # rich loads for a terminal

        return LiveProgress.on(stream)
    view = PlainProgress(stream)
    view.start()
    return view


class PlainProgress:
    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float = EVERY,
        heartbeat: float = HEARTBEAT,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._every = every
        self._heartbeat = heartbeat
        self._estimate = Estimate()
        self._reading: Reading | None = None
        self._printed: tuple[Mapping[str, int], int, int] | None = None
        self._printed_at = float("-inf")
        self._pending = False
        # The ticker thread and the run's thread both print: a line is never cut in two.
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        """Tick every second on a thread of its own, until `close()`."""
        self._ticker = threading.Thread(target=self._tick_until_closed, daemon=True)
        self._ticker.start()

    def update(self, snapshot: Snapshot) -> None:
        now = self._clock()
        with self._lock:
            if snapshot.message:
                self._write(visible(snapshot.message))
            self._estimate.observe(snapshot)
            self._reading = Reading(snapshot, now, self._estimate.latest)
            self._pending = _counts(snapshot) != self._printed
            if self._pending and now - self._printed_at >= self._every:
                self._line(now)

    def tick(self) -> None:
        """Print what is due: a change held back, or a line to show the run goes on."""
        now = self._clock()
        with self._lock:
            if self._reading is None:
                return
            quiet = now - self._printed_at
            if (self._pending and quiet >= self._every) or quiet >= self._heartbeat:
                self._line(now)

    def note(self, line: str) -> None:
        with self._lock:
            self._write(visible(line))

    def close(self) -> None:
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        with self._lock:
            if self._pending:
                self._line(self._clock())

    def _tick_until_closed(self) -> None:
        while not self._stopped.wait(TICK):
            self.tick()

    def _line(self, now: float) -> None:
        reading = self._reading
        assert reading is not None
        self._write(plain_line(reading, now))
        self._printed = _counts(reading.snapshot)
        self._printed_at, self._pending = now, False

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()


def _counts(snapshot: Snapshot) -> tuple[Mapping[str, int], int, int]:
    """What a line is printed again for when it changes: the runs by outcome, live and in
    flight (not the elapsed time: the heartbeat shows that)."""
    return snapshot.outcomes, snapshot.live, snapshot.in_flight
