"""The live bar on a terminal, drawn into a console that records what it writes: its
counts, a clock that ticks while nothing changes, colour and NO_COLOR, messages above
it, and no drawing per event."""

from __future__ import annotations

import io
import re

from rich.console import Console

from specrunner.models import Snapshot
from specrunner.report.live_progress import LiveProgress

ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def colours(text: str) -> list[int]:
    """The colour codes (foreground, background; bold and dim are not colour) set."""
    found = []
    for match in SGR.finditer(text):
        for code in filter(None, match.group(1).split(";")):
            if 30 <= int(code) <= 49 or 90 <= int(code) <= 107:
                found.append(int(code))
    return found


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def terminal(environ: dict[str, str] | None = None) -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    console = Console(
        file=stream,
        force_terminal=True,
        width=80,
        color_system="standard",
        markup=False,
        highlight=False,
        _environ=environ or {},
    )
    return console, stream


def drawn(progress: LiveProgress) -> str:
    """What the bar shows now, as plain text."""
    console = Console(file=io.StringIO(), width=80, color_system=None, force_terminal=False)
    with console.capture() as capture:
        console.print(progress.renderable())
    return capture.get()


def snap(elapsed: float, message: str | None = None, **counts: int) -> Snapshot:
    live = counts.pop("live", 0)
    return Snapshot(11, counts, in_flight=live, live=live, elapsed=elapsed, message=message)


def live_view(console: Console, clock: Clock) -> LiveProgress:
    return LiveProgress(console, clock=clock, auto_refresh=False)


def test_the_bar_shows_done_of_total_each_outcome_live_and_the_times() -> None:
    console, _ = terminal()
    clock = Clock()
    progress = live_view(console, clock)
    progress.update(snap(0.0, live=3))
    clock.now += 72.0
    progress.update(snap(72.0, passed=3, failed=1, error=1, live=3))
    shown = drawn(progress)
    first, second = shown.splitlines()
    # A first wave (3 in flight) has ended: 5 runs in 72 s, 6 left take 87 s.
    assert re.fullmatch(r"[━╺╸ ]+ 5/11 done  1m12s elapsed, about 2m left\s*", first)
    assert second.rstrip() == "3 passed, 1 failed, 1 error; 3 live in Cekura, 3 in flight"
    progress.close()


def test_the_clock_ticks_and_the_estimate_counts_down_while_nothing_changes() -> None:
    console, _ = terminal()
    clock = Clock()
    progress = live_view(console, clock)
    progress.update(snap(0.0, live=1))
    clock.now += 10.0
    progress.update(snap(10.0, passed=1, live=1))  # one run in 10 s: 10 more take 100 s
    assert "10s elapsed, about 2m left" in drawn(progress)
    clock.now += 55.0  # no snapshot for 55 s
    assert "1m05s elapsed, about 45s left" in drawn(progress)
    progress.close()
    clock.now += 30.0
    assert "1m05s elapsed" in drawn(progress), "the clock stops when the view closes"


def test_the_finished_bar_has_no_time_left() -> None:
    console, _ = terminal()
    progress = live_view(console, Clock())
    progress.update(snap(4.0, passed=11))
    assert drawn(progress).splitlines()[0].rstrip().endswith("11/11 done  4s elapsed")
    progress.close()


def test_colour_on_a_terminal_none_with_no_color() -> None:
    coloured, coloured_out = terminal()
    plain, plain_out = terminal({"NO_COLOR": "1"})
    for console in (coloured, plain):
        progress = live_view(console, Clock())
        progress.update(snap(1.0, passed=2, failed=1))
        progress.close()
    assert colours(coloured_out.getvalue())
    assert not colours(plain_out.getvalue()), repr(plain_out.getvalue())
    assert "2 passed, 1 failed" in plain_out.getvalue()


def test_messages_are_printed_above_the_bar_escaped() -> None:
    console, stream = terminal({"NO_COLOR": "1"})
    progress = live_view(console, Clock())
    progress.note("note: before the run")
    progress.update(snap(0.0))
    progress.update(snap(1.0, message="polling failed for now: \x1b]0;pwned\x07 [bold]x[/]"))
    progress.close()
    text = ESCAPE.sub("", stream.getvalue())
    assert "note: before the run\n" in text
    assert "polling failed for now: \\x1b]0;pwned\\x07 [bold]x[/]\n" in text
    assert "\x07" not in stream.getvalue()


def test_events_do_not_draw_the_bar_the_refresh_does() -> None:
    """A 10,000-run suite reports tens of thousands of events: taking one in only
    stores it; rich draws on its own thread at its refresh rate (off here)."""
    console, stream = terminal()
    progress = live_view(console, Clock())
    progress.update(snap(0.0))
    started = len(stream.getvalue())
    for event in range(100_000):
        progress.update(snap(event / 1000, passed=event % 11, live=event % 7))
    assert len(stream.getvalue()) == started
    progress.close()
    # The last event's state (99,999 % 11 = 9 passed) is what the closing drawing shows.
    assert ESCAPE.sub("", stream.getvalue()).count("9/11 done") == 1


def test_nothing_is_drawn_before_the_first_snapshot() -> None:
    console, stream = terminal()
    progress = live_view(console, Clock())
    progress.close()
    assert ESCAPE.sub("", stream.getvalue()).strip() == ""
