"""The words of the progress line, the time elapsed and the estimate of the time left."""

from __future__ import annotations

import pytest

from specrunner.models import Snapshot
from specrunner.report.progress_state import (
    Counts,
    Estimate,
    Reading,
    duration_text,
    left_text,
    plain_line,
)


def snap(
    total: int, in_flight: int = 0, live: int = 0, at: float = 0.0, **outcomes: int
) -> Snapshot:
    return Snapshot(total, outcomes, in_flight, live, elapsed=at)


def reading(snapshot: Snapshot) -> Reading:
    """A snapshot as a view takes it in, at its own elapsed time."""
    estimate = Estimate()
    estimate.observe(snapshot)
    return Reading(snapshot, snapshot.elapsed, estimate.latest)


def test_counts_name_each_outcome_and_add_them_up() -> None:
    counts = Counts.of(snap(11, 5, 3, passed=3, failed=1, error=2, unknown=1, not_run=1))
    assert (counts.done, counts.passed, counts.failed, counts.errors) == (8, 3, 1, 2)
    assert (counts.unknown, counts.not_run, counts.live, counts.in_flight) == (1, 1, 3, 5)


def test_the_line_says_every_count_in_the_documented_words() -> None:
    line = plain_line(reading(snap(11, 5, 3, passed=3, failed=1, at=72.0)), now=72.0)
    assert line == (
        "4/11 done: 3 passed, 1 failed; 3 live in Cekura, 5 in flight; "
        "1m12s elapsed, estimating time left"
    )


def test_outcomes_but_passed_show_only_when_there_are_some() -> None:
    line = plain_line(reading(snap(4, error=1, unknown=2, not_run=1, at=3.0)), now=3.0)
    assert line.startswith("4/4 done: 0 passed, 1 error, 2 unknown, 1 not run; ")
    quiet = plain_line(reading(snap(4, passed=1, at=3.0)), now=3.0)
    assert quiet.startswith("1/4 done: 1 passed; ")
    assert "error" not in quiet and "failed" not in quiet and "unknown" not in quiet


def test_a_finished_run_has_no_time_left() -> None:
    line = plain_line(reading(snap(2, passed=2, at=9.5)), now=9.5)
    assert line.endswith("; 0 live in Cekura, 0 in flight; 9s elapsed")


def test_elapsed_keeps_going_between_snapshots() -> None:
    taken = Reading(snap(3, at=4.0), received_at=100.0, left=None)
    assert plain_line(taken, now=100.0).endswith("4s elapsed, estimating time left")
    assert plain_line(taken, now=157.0).endswith("1m01s elapsed, estimating time left")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (60, "1m00s"), (72, "1m12s"), (3599, "59m59s"), (7500, "2h05m")],
)
def test_durations_read_as_a_clock_does(seconds: float, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "about 5s left"),
        (11, "about 15s left"),
        (54, "about 55s left"),
        (55, "about 1m left"),
        (61, "about 2m left"),
        (3600, "about 1h00m left"),
        (3700, "about 1h02m left"),
    ],
)
def test_estimates_are_rounded_up_as_far_as_they_are_worth(seconds: float, text: str) -> None:
    assert left_text(seconds) == text


def test_the_estimate_waits_for_a_first_wave_then_applies_the_pace() -> None:
    estimate = Estimate()
    snapshots = [
        snap(40, in_flight=10, live=10, at=1.0),
        snap(40, in_flight=10, live=9, at=20.0, passed=1),
        snap(40, in_flight=10, live=1, at=21.0, passed=9),
    ]
    for snapshot in snapshots:
        estimate.observe(snapshot)
        assert estimate.latest is None, "one run of a wave of ten says little of the pace"
    # The first wave of ten has ended at 21 s: 10 runs in 20 s since the first snapshot.
    estimate.observe(snap(40, in_flight=10, live=0, passed=10, at=21.0))
    assert estimate.latest == (pytest.approx(60.0), 21.0)


def test_the_estimate_counts_down_between_runs_ending_and_stops_at_zero() -> None:
    estimate = Estimate()
    estimate.observe(snap(4, in_flight=1, at=0.0))
    estimate.observe(snap(4, in_flight=1, passed=1, at=10.0))
    taken = Reading(snap(4, in_flight=1, at=10.0, passed=1), 10.0, estimate.latest)
    assert taken.left_at(10.0) == pytest.approx(30.0)
    assert taken.left_at(25.0) == pytest.approx(15.0)
    assert taken.left_at(90.0) == 0.0
    assert plain_line(taken, now=90.0).endswith("1m30s elapsed, about 5s left")


def test_runs_done_before_the_view_started_do_not_make_the_pace() -> None:
    """A resumed run starts with its final runs restored: they took no time here."""
    estimate = Estimate()
    estimate.observe(snap(20, in_flight=2, passed=10, at=0.0))
    estimate.observe(snap(20, in_flight=2, passed=11, at=5.0))
    assert estimate.latest is None
    estimate.observe(snap(20, in_flight=2, passed=12, at=10.0))
    # 2 runs in 10 s, 8 left: 40 s; not 12 in 10 s.
    assert estimate.latest == (pytest.approx(40.0), 10.0)


def test_an_estimate_made_changes_only_when_runs_end() -> None:
    estimate = Estimate()
    estimate.observe(snap(3, in_flight=1, at=0.0))
    estimate.observe(snap(3, in_flight=1, passed=1, at=6.0))
    made = estimate.latest
    estimate.observe(snap(3, in_flight=1, live=1, passed=1, at=9.0))
    assert estimate.latest == made
