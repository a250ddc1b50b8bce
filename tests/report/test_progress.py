"""Plain progress lines (a run whose output is not a terminal): their pace, driven by a
fake clock and `tick()` as the view's thread would call it, and the choice of view."""

from __future__ import annotations

import io
import time

from specrunner.models import Snapshot
from specrunner.report.live_progress import LiveProgress
from specrunner.report.progress import HEARTBEAT, PlainProgress, progress_view


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def snap(elapsed: float, done: int = 0, live: int = 0, message: str | None = None) -> Snapshot:
    outcomes = {"passed": done} if done else {}
    return Snapshot(10, outcomes, in_flight=live, live=live, elapsed=elapsed, message=message)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def view() -> tuple[PlainProgress, Clock, io.StringIO]:
    clock, stream = Clock(), io.StringIO()
    return PlainProgress(stream, clock=clock, every=5.0, heartbeat=10.0), clock, stream


def test_the_first_snapshot_is_shown_at_once() -> None:
    progress, _, stream = view()
    progress.update(snap(0.0))
    assert lines(stream) == [
        "0/10 done: 0 passed; 0 live in Cekura, 0 in flight; 0s elapsed, estimating time left"
    ]


def test_changes_come_at_most_one_line_per_interval_and_none_is_lost() -> None:
    progress, clock, stream = view()
    progress.update(snap(0.0))
    for live in range(1, 6):  # five changes within the first second
        clock.now += 0.2
        progress.update(snap(clock.now - 1000.0, live=live))
    assert len(lines(stream)) == 1, "changes within the interval wait"
    clock.now = 1004.9
    progress.tick()
    assert len(lines(stream)) == 1
    clock.now = 1005.0
    progress.tick()
    assert lines(stream)[-1].startswith("0/10 done: 0 passed; 5 live in")
    # The elapsed time is the line's, not the held-back snapshot's.
    assert lines(stream)[-1].endswith("; 5s elapsed, estimating time left")
    assert len(lines(stream)) == 2


def test_a_change_after_a_quiet_interval_is_printed_when_it_comes() -> None:
    progress, clock, stream = view()
    progress.update(snap(0.0))
    clock.now += 7.0
    progress.update(snap(7.0, done=1))
    assert lines(stream)[-1].startswith("1/10 done: 1 passed")
    # One run in 7 s (one at a time): 9 more take 63 s.
    assert lines(stream)[-1].endswith("; 7s elapsed, about 2m left")


def test_a_quiet_run_still_prints_a_line_every_heartbeat_with_the_time_going_on() -> None:
    progress, clock, stream = view()
    progress.update(snap(0.0, live=3))
    for _ in range(35):  # 35 s of ticks, once a second, and nothing changes
        clock.now += 1.0
        progress.tick()
    shown = lines(stream)
    assert len(shown) == 4
    assert [line.split("; ")[-1] for line in shown] == [
        "0s elapsed, estimating time left",
        "10s elapsed, estimating time left",
        "20s elapsed, estimating time left",
        "30s elapsed, estimating time left",
    ]
    assert HEARTBEAT == 10.0, "docs/running.md says every 10 s"


def test_a_snapshot_that_changes_nothing_prints_nothing() -> None:
    progress, clock, stream = view()
    progress.update(snap(0.0, live=2))
    for step in range(1, 5):
        clock.now += 6.0
        progress.update(snap(6.0 * step, live=2))
    assert len(lines(stream)) == 1


def test_close_prints_the_last_state_once() -> None:
    progress, clock, stream = view()
    progress.update(snap(0.0))
    clock.now += 1.0
    progress.update(snap(1.0, done=10))
    progress.close()
    assert lines(stream)[-1] == ("10/10 done: 10 passed; 0 live in Cekura, 0 in flight; 1s elapsed")
    assert len(lines(stream)) == 2
    progress.close()
    assert len(lines(stream)) == 2


def test_close_with_nothing_new_adds_no_line() -> None:
    progress, _, stream = view()
    progress.update(snap(0.0))
    progress.close()
    assert len(lines(stream)) == 1


def test_messages_are_printed_as_they_come_whatever_the_pace() -> None:
    progress, clock, stream = view()
    progress.update(snap(0.0))
    clock.now += 0.5
    progress.update(snap(0.5, message="polling failed for now: 503"))
    progress.note("note: a line of its own")
    assert lines(stream)[1:] == ["polling failed for now: 503", "note: a line of its own"]


def test_a_long_run_of_events_prints_by_the_clock_not_by_the_event() -> None:
    """100,000 events in 100 s (a 10,000-run suite): about one line per interval."""
    progress, clock, stream = view()
    for event in range(100_000):
        clock.now = 1000.0 + event / 1000
        progress.update(snap(event / 1000, done=event // 10_000, live=event % 7))
        if event % 1000 == 0:
            progress.tick()
    assert 19 <= len(lines(stream)) <= 22


def test_the_thread_ticks_until_the_view_is_closed() -> None:
    stream = io.StringIO()
    progress = PlainProgress(stream, every=0.0, heartbeat=0.0)
    progress.update(snap(0.0))
    progress.start()
    deadline = time.monotonic() + 10
    while len(lines(stream)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    progress.close()
    assert len(lines(stream)) >= 2, "the ticker printed no heartbeat within 10 s"
    settled = stream.getvalue()
    time.sleep(1.5)
    assert stream.getvalue() == settled, "a line came after close()"


def test_a_terminal_gets_the_live_bar_and_a_log_plain_lines() -> None:
    live = progress_view(io.StringIO(), interactive=True)
    plain = progress_view(io.StringIO(), interactive=False)
    try:
        assert isinstance(live, LiveProgress)
        assert isinstance(plain, PlainProgress)
    finally:
        live.close()
        plain.close()
