"""Live progress while a suite runs: one updating line on a terminal, plain lines
otherwise. It shows the executor's `Snapshot`s; a snapshot's message (which may quote a
server) is shown with its control and bidi characters escaped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

from specrunner.models import Outcome, Snapshot
from specrunner.text import visible

ORDER = (Outcome.PASSED, Outcome.FAILED, Outcome.ERROR, Outcome.UNKNOWN, Outcome.NOT_RUN)


def _counts(outcomes: Mapping[str, int]) -> str:
    return ", ".join(f"{outcomes[o.value]} {o.value}" for o in ORDER if outcomes.get(o.value))


class ProgressView:
    """On a terminal, one line rewritten in place; elsewhere a line every `every` seconds
    of progress (and the last one), so CI logs stay short."""

    def __init__(self, stream: TextIO, *, interactive: bool, every: float = 2.0) -> None:
        self._stream = stream
        self._interactive = interactive
        self._every = every
        self._last_line = ""
        self._last_at = -every
        self._width = 0

    def update(self, snapshot: Snapshot) -> None:
        if snapshot.message:
            self._print(visible(snapshot.message))
        done = sum(snapshot.outcomes.values())
        counts = _counts(snapshot.outcomes)
        line = (
            f"{done}/{snapshot.total} done"
            + (f" ({counts})" if counts else "")
            + f", {snapshot.live} live, {snapshot.in_flight} in flight, "
            f"{snapshot.elapsed:.0f} s"
        )
        if line == self._last_line:
            return
        if self._interactive:
            self._last_line = line
            self._stream.write("\r" + line.ljust(self._width))
            self._stream.flush()
            self._width = len(line)
            return
        if snapshot.elapsed - self._last_at < self._every and done < snapshot.total:
            return
        self._last_line, self._last_at = line, snapshot.elapsed
        self._print(line)

    def note(self, line: str) -> None:
        """A line of its own (escaped), above the progress line."""
        self._print(visible(line))

    def _print(self, line: str) -> None:
        if self._interactive and self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self._stream.write(line + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._interactive and self._width:
            self._stream.write("\n")
            self._stream.flush()
            self._width = 0
