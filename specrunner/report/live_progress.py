"""The live progress display on a terminal: one bar for the suite, with its counts, the
time elapsed and an estimate of the time left (docs/running.md, "Progress").

Taking in a snapshot only stores it (O(1)); rich draws the bar on its own thread
`refresh_per_second` times a second, whatever the rate of events, and the elapsed time
and the estimate move at each drawing even when no run changes. Messages and notes are
printed above the bar as they come. Colour follows rich: none when `NO_COLOR` is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from specrunner.models import Snapshot
from specrunner.report.progress_state import Estimate, Reading, done_text, tally, times
from specrunner.text import visible

BAR_WIDTH = 24
REFRESH_PER_SECOND = 2.0


class LiveProgress:
    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        auto_refresh: bool = True,
        refresh_per_second: float = REFRESH_PER_SECOND,
    ) -> None:
        self._console = console
        self._clock = clock
        self._estimate = Estimate()
        # Replaced whole at each snapshot: the drawing thread reads one consistent record.
        self._reading: Reading | None = None
        self._stopped_at: float | None = None
        self._live = Live(
            console=console,
            get_renderable=self.renderable,
            auto_refresh=auto_refresh,
            refresh_per_second=refresh_per_second,
            transient=False,
        )

    @classmethod
    def on(cls, stream: TextIO) -> LiveProgress:
        # No markup, no highlighting: every word shown is ours or escaped by `visible`.
        return cls(Console(file=stream, markup=False, highlight=False, emoji=False))

    def update(self, snapshot: Snapshot) -> None:
        if snapshot.message:
            self._print(snapshot.message)
        self._estimate.observe(snapshot)
        self._reading = Reading(snapshot, self._clock(), self._estimate.latest)
        if self._stopped_at is None and not self._live.is_started:
            # Shown from the first snapshot: a suite refused before it runs draws no bar.
            self._live.start(refresh=True)

    def note(self, line: str) -> None:
        self._print(line)

    def close(self) -> None:
        """Stop the clock and leave the last state drawn, above what follows."""
        if self._stopped_at is None:
            self._stopped_at = self._clock()
        self._live.stop()

    def renderable(self) -> RenderableType:
        reading = self._reading
        if reading is None:
            return Text("")
        now = self._clock() if self._stopped_at is None else self._stopped_at
        counts = reading.counts
        # Green as long as every run ended has passed (as pytest's percentage is).
        colour = "red" if counts.failed or counts.errors else "green"
        bar = ProgressBar(
            total=max(counts.total, 1),
            completed=counts.done,
            width=BAR_WIDTH,
            complete_style=colour,
            finished_style=colour,
        )
        top = Table.grid(padding=(0, 1))
        top.add_column(no_wrap=True)
        top.add_column()
        top.add_row(bar, Text.assemble(done_text(counts), ("  ", ""), *times(reading, now)))
        # The counts on a line of their own, under the bar: it fits a terminal of 80.
        return Group(top, Text.assemble(*tally(counts)))

    def _print(self, line: str) -> None:
        self._console.print(Text(visible(line)), soft_wrap=True)
