"""The poll cadence: the interval until runs have been seen to end; then faster while live
runs are as old as runs were when they ended (so no wave of rooms waits for the clock),
and never faster than needed for calls of minutes."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_executor import Clock, FakeCekura, FakeSource, plan

from specrunner.cekura import Submitted
from specrunner.execute.cadence import QUIET_POLLS, SLOWEST, Cadence
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL


def ended_exactly(cadence: Cadence, seconds: float) -> None:
    """A run seen live the moment it ended: its duration is known exactly."""
    cadence.ended(0.0, seconds, seconds)


@pytest.mark.parametrize(
    ("oldest", "wait"),
    [(0.2, 0.125), (1.0, 0.125), (4.0, 0.5), (8.0, 1.0), (300.0, 1.0)],
    ids=["just-sent", "one-interval", "four-intervals", "eight-intervals", "minutes"],
)
def test_until_runs_have_ended_the_oldest_is_polled_as_its_age_grows_by_an_eighth(
    oldest: float, wait: float
) -> None:
    cadence = Cadence(1.0)
    ended_exactly(cadence, 1.0)
    ended_exactly(cadence, 1.0)  # (two are not enough to expect a length)
    # a short call is seen within an eighth of its length; never more often than an eighth
    # of the interval, never less often than the interval
    assert cadence.next_poll(10.0, 10.0, [10.0 - oldest, 9.9]) == pytest.approx(10.0 + wait)
    assert cadence.next_poll(10.0, 10.0, []) == 11.0  # nothing live: the interval


def test_young_polls_do_not_count_as_quiet_ones() -> None:
    """The quick polls of young runs do not slow the cadence down sooner: only polls at
    the interval count towards QUIET_POLLS."""
    cadence = Cadence(1.0)
    for _ in range(QUIET_POLLS + 5):
        cadence.next_poll(10.0, 10.0, [9.9])  # brought forward
        cadence.ticked(changed=False)
    assert cadence.interval == 1.0
    for _ in range(QUIET_POLLS + 1):
        cadence.next_poll(10.0, 10.0, [])  # at the interval
        cadence.ticked(changed=False)
    assert cadence.interval > 1.0


@pytest.mark.parametrize(
    ("age", "wait"),
    [(0.2, 0.82), (0.6, 0.42), (0.9, 0.12), (1.1, 0.0625), (2.5, 1.0)],
    ids=["young", "nearly-due", "almost-due", "due", "long-overdue"],
)
def test_near_the_durations_seen_it_polls_sixteen_times_as_often(age: float, wait: float) -> None:
    cadence = Cadence(1.0)
    for seconds in (1.0, 1.0, 1.1, 0.9, 1.0):
        ended_exactly(cadence, seconds)
    # polled just now (at 100): the next poll comes when the run is as old as runs were
    # seen live for (1 s, the median, and a margin of 0.02 s), but never sooner than a
    # sixteenth of the interval
    assert cadence.next_poll(100.0, 100.0, [100.0 - age]) == pytest.approx(100.0 + wait)


def test_a_wave_submitted_after_a_poll_is_polled_when_it_is_due() -> None:
    cadence = Cadence(1.0)
    for seconds in (0.5, 0.5, 0.5):
        ended_exactly(cadence, seconds)
    # nothing live at the poll at 100: the regular next poll is 101
    assert cadence.next_poll(100.0, 100.0, []) == 101.0
    # a wave of 0.5 s runs sent at 100.05: polled at 100.57 (0.5 s and a margin), not at 101
    assert cadence.next_poll(100.0, 100.1, [100.05]) == pytest.approx(100.57)
    # a wave of 1 s runs sent at 100.03 is due just after the regular poll at 101: that
    # poll would find them running, so the next waits for them instead
    slow = Cadence(1.0)
    for seconds in (1.0, 1.0, 1.0):
        ended_exactly(slow, seconds)
    assert slow.next_poll(100.0, 100.1, [100.03]) == pytest.approx(101.05)


def test_for_calls_of_minutes_it_never_polls_faster_than_the_interval() -> None:
    cadence = Cadence(1.0)
    for seconds in (180.0, 240.0, 200.0):
        ended_exactly(cadence, seconds)
    assert cadence.next_poll(1000.0, 1000.0, [1000.0 - 200.0]) == 1001.0


def test_quiet_polls_slow_it_down_and_a_change_brings_it_back() -> None:
    cadence = Cadence(1.0)
    for _ in range(QUIET_POLLS + 30):
        cadence.ticked(changed=False)
    assert cadence.interval == SLOWEST
    cadence.ticked(changed=True)
    assert cadence.interval == 1.0


class TimedCekura(FakeCekura):
    """Each run ends `call` seconds of the fake clock after it was submitted."""

    def __init__(self, clock: Clock, call: float) -> None:
        super().__init__()
        self.clock, self.call = clock, call
        self.started: dict[int, float] = {}
        self.seen_at_age: list[float] = []
        """For each run, in order: how long after its submission a poll saw it ended."""

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        answer = await super().submit(entries, agent)
        for run_id in answer.run_ids:
            assert run_id is not None
            self.started[run_id] = self.clock.now()
        return answer

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        self.polls.append(list(run_ids))
        done = {i for i in run_ids if self.clock.now() - self.started[i] >= self.call}
        self.seen_at_age += [self.clock.now() - self.started[i] for i in sorted(done)]
        return [
            {"id": i, "status": "completed" if i in done else "running", "success": i in done}
            for i in run_ids
        ]


def waves(tmp_path: Path, count: int) -> tuple[list[float], int]:
    """`count` runs of 1 s one after another in one room, polled every 1 s at the
    shortest: how long after its start each was seen to end, and the polls."""
    clock = Clock()
    cekura = TimedCekura(clock, 1.0)
    the_plan = plan(count, {"a": 1})
    journal = Journal(tmp_path / JOURNAL)
    journal.write("start", keys=[r.key for r in the_plan.runs], request={})
    executor = Executor(
        the_plan,
        cekura=cekura,
        sources={"a": FakeSource("a", 1)},
        journal=journal,
        settings=Settings(poll_interval=1.0, batch_window=0.0, now=clock.now, sleep=clock.sleep),
    )
    try:
        records = asyncio.run(executor.run())
    finally:
        journal.close()
    assert all(r.outcome is not None and r.outcome.value == "passed" for r in records)
    return cekura.seen_at_age, len(cekura.polls)


def test_once_runs_were_seen_to_end_no_wave_waits_a_whole_interval(tmp_path: Path) -> None:
    ages, polls = waves(tmp_path, 12)
    assert len(ages) == 12
    # The first runs are polled as their age grows by an eighth (so seen within an eighth
    # of their length, where the 1 s cadence alone would see them up to 1 s late); once
    # their lengths are known, polls come when a run is due, and each is seen within a
    # sixteenth of the interval of its end.
    # (The fake clock moves in steps of up to 0.25 s while the journal's thread writes.)
    assert all(age <= 1.0 + 0.15 + 0.25 for age in ages[:3]), ages
    assert all(age <= 1.0 + 0.0625 + 0.25 + 1e-9 for age in ages[3:]), ages
    assert sorted(ages[3:])[4] <= 1.0 + 0.0625 + 1e-9, ages
    assert polls <= 12 * 5, polls  # a few polls per run near its end, not a flood


def test_an_estimate_from_the_first_polls_comes_down_to_the_truth() -> None:
    """Runs of 0.5 s, seen live at 0.47 s and ended at 0.72 s: the cadence goes by the
    lower bound (0.47 s), not the middle (0.6 s), so the next wave is polled about when it
    ends, and a poll that still sees it live (at 0.49 s) raises the bound to just below
    the truth."""
    cadence = Cadence(1.0)
    for _ in range(3):
        cadence.ended(0.0, 0.47, 0.72)
    assert cadence.next_poll(10.0, 10.0, [10.0]) == pytest.approx(10.49)
    for _ in range(5):
        cadence.ended(10.0, 10.49, 10.52)
    assert cadence.next_poll(20.0, 20.0, [20.0]) == pytest.approx(20.51)


def test_runs_never_seen_live_are_expected_at_half_the_age_they_were_found_at() -> None:
    cadence = Cadence(1.0)
    for _ in range(3):
        cadence.ended(0.0, 0.0, 0.8)  # each ended before the first poll after it was sent
    # they lasted at most 0.8 s: the next wave is looked at from 0.4 s (and a margin) on
    assert cadence.next_poll(10.0, 10.0, [10.0]) == pytest.approx(10.42)


def test_a_poll_brought_forward_asks_only_for_runs_old_enough_to_have_ended() -> None:
    cadence = Cadence(1.0)
    for _ in range(3):
        cadence.ended(0.0, 0.5, 0.55)  # runs of about half a second
    # at the interval, every live run is asked about
    assert cadence.next_poll(10.0, 10.9, [10.85]) == 11.0
    assert cadence.poll_from() == 0.0
    # brought forward for a run that is due, only runs at least as old as runs were seen
    # live for are asked about; younger ones are still going
    assert cadence.next_poll(10.0, 10.4, [9.9, 10.3]) == pytest.approx(10.42)
    assert cadence.poll_from() == pytest.approx(0.5)


def test_young_polls_ask_for_the_runs_near_the_oldest_age() -> None:
    cadence = Cadence(1.0)
    assert cadence.next_poll(10.0, 10.0, [9.2, 9.9]) == pytest.approx(10.125)
    assert cadence.poll_from() == pytest.approx(0.8 * 7 / 8)


class MixedCekura(TimedCekura):
    """Runs of scenario 30 end after `short` seconds (a call that fails at once, say); the
    others after `call`."""

    def __init__(self, clock: Clock, call: float, short: float) -> None:
        super().__init__(clock, call)
        self.short = short
        self.scenario_of: dict[int, int] = {}
        self.ended_at: dict[int, float] = {}
        self.found_at: dict[int, float] = {}

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        answer = await super().submit(entries, agent)
        for entry, run_id in zip(entries, answer.run_ids, strict=True):
            assert run_id is not None
            self.scenario_of[run_id] = entry["scenario"]
        return answer

    def _length(self, run_id: int) -> float:
        return self.short if self.scenario_of[run_id] == 30 else self.call

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        self.polls.append(list(run_ids))
        now = self.clock.now()
        done = {i for i in run_ids if now - self.started[i] >= self._length(i)}
        for i in done:
            self.ended_at[i] = self.started[i] + self._length(i)
            self.found_at[i] = now
        return [
            {"id": i, "status": "completed" if i in done else "running", "success": i in done}
            for i in run_ids
        ]


def test_runs_that_end_early_are_not_lost_to_polls_that_skip_young_runs(tmp_path: Path) -> None:
    """Polls brought forward for runs near their expected end ask only for runs that old
    (Cadence.poll_from, tested above); with calls of two lengths, one ten times the other,
    no run is lost to that: each is seen to end within the interval of its end. (Which
    polls skip which runs depends on how the fake clock moves while the journal's thread
    writes, so it is not asserted here.)"""
    clock = Clock()
    cekura = MixedCekura(clock, call=1.0, short=0.1)
    the_plan = plan(30, {"a": 2}, scenarios=2)  # one short, one long run at a time
    journal = Journal(tmp_path / JOURNAL)
    journal.write("start", keys=[r.key for r in the_plan.runs], request={})
    executor = Executor(
        the_plan,
        cekura=cekura,
        sources={"a": FakeSource("a", 2)},
        journal=journal,
        settings=Settings(
            concurrency=2, poll_interval=1.0, batch_window=0.0, now=clock.now, sleep=clock.sleep
        ),
    )
    try:
        records = asyncio.run(executor.run())
    finally:
        journal.close()
    assert [r.outcome.value for r in records if r.outcome is not None] == ["passed"] * 30
    assert set(cekura.found_at) == set(cekura.started)  # every run was seen to end
    # yet each run is seen within the interval of its end (plus a step of the fake clock)
    late = max(cekura.found_at[i] - cekura.ended_at[i] for i in cekura.found_at)
    assert late <= 1.0 + 0.25 + 1e-9, late
