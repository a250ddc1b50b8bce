"""The executor's stops and chores with fakes (issue 10): a slow release delays no poll,
`stop()` while a POST is in flight, the breaker's one budget, batches that never hold a
scenario twice, and answers whose runs cannot be told apart."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_executor import Clock, FakeCekura, FakeSource, execute, plan

from specrunner.cekura import CekuraApi, Submitted
from specrunner.errors import RemoteError
from specrunner.execute.breaker import Breaker
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.execute.replay import replay
from specrunner.models import Outcome, Plan, PlannedRun, RunRecord
from specrunner.retry import GaveUp, RetryPolicy
from specrunner.rooms.base import RoomLease

IDLE_SECONDS = 1.0
"""Real seconds a fake waits for the fake clock to move before it moves it itself."""


class TimedCekura(FakeCekura):
    """FakeCekura that notes the fake time of each poll and end call; the runs of the
    scenarios in `never` never end by themselves."""

    def __init__(self, clock: Clock, never: frozenset[int] = frozenset()) -> None:
        super().__init__(polls_to_finish=1)
        self.clock = clock
        self.never = never
        self.poll_times: list[float] = []
        self.ended_at: dict[int, float] = {}
        self.scenario_of: dict[int, int] = {}

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        answer = await super().submit(entries, agent)
        for entry, run_id in zip(entries, answer.run_ids, strict=True):
            assert run_id is not None
            self.scenario_of[run_id] = int(entry["scenario"])
        return answer

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        self.poll_times.append(self.clock.t)
        found = await super().poll(run_ids)
        for run in found:
            if self.scenario_of[run["id"]] in self.never:
                run["status"] = "running"
        return found

    async def end_call(self, run_id: int) -> None:
        self.ended_at[run_id] = self.clock.t
        await super().end_call(run_id)


class SlowRelease(FakeSource):
    """Releasing the room of run `slow` takes `seconds` of the fake clock: it waits for the
    clock to move that far (the executor's polls move it). Should the clock stand still,
    as it does once nothing but chores is left, it moves the clock itself."""

    def __init__(self, name: str, clock: Clock, slow: str, seconds: float) -> None:
        super().__init__(name, None)
        self.clock, self.slow, self.seconds = clock, slow, seconds
        self.span: tuple[float, float] | None = None

    async def release(self, lease: RoomLease) -> None:
        if lease.handle == self.slow:
            began = self.clock.t
            last, still_since = began, time.monotonic()
            for _ in range(1_000_000):
                if self.clock.t >= began + self.seconds:
                    break
                await asyncio.sleep(0)
                if self.clock.t != last:
                    last, still_since = self.clock.t, time.monotonic()
                elif time.monotonic() - still_since > IDLE_SECONDS:
                    # Measured in real time, not in turns of the loop: a journal sync
                    # (a thread) can hold the poll loop for many turns.
                    self.clock.t = began + self.seconds
            self.span = (began, self.clock.t)
        await super().release(lease)


def journal_of(tmp_path: Path, the_plan: Plan) -> Journal:
    journal = Journal(tmp_path / JOURNAL)
    journal.write("start", keys=[r.key for r in the_plan.runs], request={})
    return journal


def by_key(records: Sequence[RunRecord]) -> dict[str, RunRecord]:
    return {r.key: r for r in records}


# -- (a) chores beside the poll loop


def test_a_slow_release_delays_no_poll_and_no_timeout(tmp_path: Path) -> None:
    clock = Clock()
    # k000 (scenario 30) ends at the first poll and its release takes 3 s; k001
    # (scenario 31) never ends, and must time out at 2 s while that release is pending.
    cekura = TimedCekura(clock, never=frozenset({31}))
    source = SlowRelease("a", clock, slow="k000", seconds=3.0)
    records, _ = execute(
        tmp_path,
        plan(2, {"a": None}, timeout=2.0, scenarios=2),
        cekura,
        {"a": source},
        poll_interval=0.25,
        now=clock.now,
        sleep=clock.sleep,
    )
    outcomes = by_key(records)
    assert outcomes["k000"].outcome is Outcome.PASSED
    assert outcomes["k001"].outcome is Outcome.ERROR
    assert "timed out" in (outcomes["k001"].error or "")
    assert source.span is not None
    began, ended = source.span
    assert ended - began >= 3.0
    during = [t for t in cekura.poll_times if began < t < ended]
    assert len(during) >= 5, f"polls {cekura.poll_times} while the release ran {source.span}"
    (ended_call,) = cekura.ended_at.values()
    assert ended_call < ended, "the timeout waited for the release"
    assert ended_call <= 2.0 + 3 * 0.25
    assert sorted(source.released) == ["k000", "k001"]


# -- (b) stop() while a POST is in flight


class GatedCekura(FakeCekura):
    """The first POST waits for `gate`; `entered` says it is in flight."""

    def __init__(self) -> None:
        super().__init__(polls_to_finish=1000)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        self.entered.set()
        await self.gate.wait()
        return await super().submit(entries, agent)


def executor_for(
    tmp_path: Path,
    the_plan: Plan,
    cekura: CekuraApi,
    sources: dict[str, FakeSource],
    *,
    resumed: bool = False,
    **settings: Any,
) -> tuple[Executor, Journal, Clock]:
    """An executor on the fake clock; its journal is started unless it is `resumed`."""
    clock = Clock()

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    values: dict[str, Any] = {
        "batch_window": 0.0,
        "now": clock.now,
        "sleep": clock.sleep,
        "submit_retry": RetryPolicy(sleep=no_wait, deadline=60.0, now=clock.now),
    }
    values.update(settings)
    journal = Journal(tmp_path / JOURNAL) if resumed else journal_of(tmp_path, the_plan)
    executor = Executor(
        the_plan, cekura=cekura, sources=sources, journal=journal, settings=Settings(**values)
    )
    return executor, journal, clock


def test_stop_while_a_post_is_in_flight_lets_it_finish_and_sends_nothing_more(
    tmp_path: Path,
) -> None:
    the_plan = plan(6, {"a": None}, scenarios=6)
    cekura = GatedCekura()
    source = FakeSource("a", None)
    executor, journal, _ = executor_for(
        tmp_path, the_plan, cekura, {"a": source}, concurrency=4, batch_size=2, submissions=1
    )

    async def scenario() -> list[RunRecord]:
        task = asyncio.create_task(executor.run())
        await asyncio.wait_for(cekura.entered.wait(), 5)
        executor.stop()
        for _ in range(50):
            await asyncio.sleep(0)
        assert not task.done(), "run() ended with a POST in flight"
        cekura.gate.set()
        return await asyncio.wait_for(task, 5)

    try:
        records = by_key(asyncio.run(scenario()))
    finally:
        journal.close()
    assert executor.stopped == "interrupted"
    assert len(cekura.batches) == 1, "a batch was sent after stop()"
    sent = [entry["publish_data_message"]["i"] for entry in cekura.batches[0]]
    sent_keys = {f"k{i:03d}" for i in sent}
    assert sent_keys
    state = replay(tmp_path / JOURNAL)
    for key, record in records.items():
        if key in sent_keys:
            assert record.run_id is not None and record.outcome is Outcome.UNKNOWN
            assert state.runs[key].run_id == record.run_id  # journaled
            assert not state.runs[key].released  # its room stays, for --resume
        else:
            assert record.run_id is None and record.outcome is Outcome.NOT_RUN
            assert state.runs[key].batch is None
    assert source.released, "no run was leased and left unsent: nothing was tested"
    assert not set(source.released) & sent_keys, "the room of a live run was given back"
    assert source.held == len(sent_keys), "the room of a run never sent was kept"


class CountingGate(GatedCekura):
    """Every POST waits for `gate`; `inside` counts those in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = self.most_inside = 0

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            return await super().submit(entries, agent)
        finally:
            self.inside -= 1


def test_several_posts_go_at_once_and_a_stop_lets_each_of_them_finish(tmp_path: Path) -> None:
    the_plan = plan(12, {"a": None}, scenarios=12)
    cekura = CountingGate()
    source = FakeSource("a", None)
    executor, journal, _ = executor_for(
        tmp_path, the_plan, cekura, {"a": source}, concurrency=12, batch_size=2, submissions=3
    )

    async def scenario() -> tuple[int, list[RunRecord]]:
        task = asyncio.create_task(executor.run())
        for _ in range(500):  # until three POSTs wait at the gate (at most 5 s)
            if cekura.inside == 3:
                break
            await asyncio.sleep(0.01)  # each intent is synced to disk before its POST
        in_flight = cekura.inside
        executor.stop()
        for _ in range(50):
            await asyncio.sleep(0)
        assert not task.done(), "run() ended with POSTs in flight"
        cekura.gate.set()
        return in_flight, await asyncio.wait_for(task, 5)

    try:
        in_flight, records = asyncio.run(scenario())
    finally:
        journal.close()
    assert in_flight == 3 and cekura.most_inside == 3  # never more than --submissions
    assert len(cekura.batches) == 3, "a POST in flight was lost, or one went after stop()"
    sent = {f"k{e['publish_data_message']['i']:03d}" for b in cekura.batches for e in b}
    assert len(sent) == 6
    state = replay(tmp_path / JOURNAL)
    assert {k for k, s in state.runs.items() if s.run_id is not None} == sent
    assert all((r.run_id is not None) == (r.key in sent) for r in records)


def test_a_hard_stop_during_a_post_leaves_its_runs_unknown_with_their_rooms(
    tmp_path: Path,
) -> None:
    the_plan = plan(4, {"a": None}, scenarios=4)
    cekura = GatedCekura()
    source = FakeSource("a", None)
    executor, journal, _ = executor_for(
        tmp_path, the_plan, cekura, {"a": source}, concurrency=2, batch_size=2
    )

    async def scenario() -> list[str]:
        task = asyncio.create_task(executor.run())
        await asyncio.wait_for(cekura.entered.wait(), 5)
        records = [json.loads(line) for line in (tmp_path / JOURNAL).read_text().splitlines()]
        (intent,) = [r for r in records if r["type"] == "intent"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        keys: list[str] = intent["keys"]
        return keys

    try:
        cut_off = asyncio.run(scenario())
    finally:
        journal.close()
    records = by_key(executor.records())
    for key in cut_off:
        assert records[key].outcome is Outcome.UNKNOWN, records[key]
        assert not records[key].unsent
        assert key not in source.released, "the room of a run Cekura may have was given back"


class SlowToAnswer(FakeSource):
    """The room service makes the room of run `slow` at once, but its answer comes only
    when `gate` is set (a slow network): a lease cancelled meanwhile leaves a room made."""

    def __init__(self, name: str, slow: str) -> None:
        super().__init__(name, None)
        self.slow = slow
        self.made: list[str] = []
        self.leasing = asyncio.Event()
        self.gate = asyncio.Event()

    async def lease(self, run: PlannedRun) -> RoomLease:
        self.made.append(run.key)
        if run.key == self.slow:
            self.leasing.set()
            await self.gate.wait()
        return await super().lease(run)


def test_stop_while_a_room_is_being_leased_leaves_no_room_behind(tmp_path: Path) -> None:
    the_plan = plan(3, {"a": None}, scenarios=3)
    cekura = GatedCekura()
    source = SlowToAnswer("a", slow="k002")
    executor, journal, _ = executor_for(
        tmp_path, the_plan, cekura, {"a": source}, concurrency=3, batch_size=3
    )

    async def scenario() -> None:
        task = asyncio.create_task(executor.run())
        await asyncio.wait_for(source.leasing.wait(), 5)
        await asyncio.wait_for(cekura.entered.wait(), 5)
        executor.stop()
        cekura.gate.set()
        for _ in range(20):
            await asyncio.sleep(0)
        source.gate.set()  # the room's answer arrives after the stop
        await asyncio.wait_for(task, 5)

    try:
        asyncio.run(scenario())
    finally:
        journal.close()
    sent = {f"k{e['publish_data_message']['i']:03d}" for b in cekura.batches for e in b}
    assert "k002" not in sent
    assert "k002" in source.released, "the room made for a cancelled lease was never released"


# -- (c) the breaker


def test_the_breaker_opens_only_after_its_budget_of_failures() -> None:
    clock = Clock()
    breaker = Breaker(30.0, now=clock.now)
    assert breaker.remaining() == 30.0
    for t in (0.0, 10.0, 29.9):
        clock.t = t
        assert breaker.failed(f"down at {t}") is False
    assert not breaker.open
    assert breaker.remaining() == pytest.approx(0.1)
    clock.t = 30.0
    assert breaker.failed("down at 30") is True
    assert breaker.open and breaker.reason == "down at 30"
    breaker.succeeded()  # too late: an open breaker stays open
    assert breaker.open and breaker.failed("again") is True and breaker.remaining() == 0.0


def test_a_success_resets_the_breaker() -> None:
    clock = Clock()
    breaker = Breaker(30.0, now=clock.now)
    for t in (0.0, 25.0):
        clock.t = t
        assert not breaker.failed("down")
    clock.t = 26.0
    breaker.succeeded()
    assert breaker.remaining() == 30.0
    for t in (27.0, 56.9):  # 56.9 - 0 > 30, but only 29.9 s since the success
        clock.t = t
        assert not breaker.failed("down")
    clock.t = 57.0
    assert breaker.failed("down")


class FlakyPolls(FakeCekura):
    """Poll number n (from 1) fails (GaveUp) when `down(n, fake time)` is true."""

    def __init__(
        self, clock: Clock, down: Callable[[int, float], bool], polls_to_finish: int = 10_000
    ) -> None:
        super().__init__(polls_to_finish=polls_to_finish)
        self.clock, self.down = clock, down
        self.failed = 0

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        self.polls.append(list(run_ids))
        if self.down(len(self.polls), self.clock.t):
            self.failed += 1
            raise GaveUp("ConnectError talking to Cekura", 3)
        self.polls.pop()  # FakeCekura notes it again
        return await super().poll(run_ids)


def test_polls_failing_for_the_budget_halt_the_run(tmp_path: Path) -> None:
    clock = Clock()
    cekura = FlakyPolls(clock, down=lambda n, t: t >= 2.0)
    with pytest.raises(RemoteError, match="cannot be polled"):
        execute(
            tmp_path,
            plan(2, {"a": None}, scenarios=2),
            cekura,
            {"a": FakeSource("a", None)},
            unreachable_budget=5.0,
            now=clock.now,
            sleep=clock.sleep,
        )
    assert 7.0 <= clock.t <= 9.0, clock.t  # from the first failure, 5 s of failures


def test_polls_that_fail_with_successes_between_never_halt_the_run(tmp_path: Path) -> None:
    clock = Clock()
    # every other poll fails: 40 failures over tens of seconds (the polls of young runs
    # come quickly at first), far more than the 5 s budget in all
    cekura = FlakyPolls(clock, down=lambda n, t: n % 2 == 1, polls_to_finish=40)
    records, executor = execute(
        tmp_path,
        plan(2, {"a": None}, scenarios=2),
        cekura,
        {"a": FakeSource("a", None)},
        unreachable_budget=5.0,
        now=clock.now,
        sleep=clock.sleep,
    )
    assert executor.stopped is None
    assert [r.outcome for r in records] == [Outcome.PASSED] * 2
    assert cekura.failed >= 40 and clock.t > 5.0 * 2


# -- (d) batches and answers


class StrictCekura(FakeCekura):
    """Refuses, as the real client does, a batch that names a scenario twice."""

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        counts = Counter(entry["scenario"] for entry in entries)
        if max(counts.values()) > 1:
            raise ValueError(f"a batch names a scenario twice: {counts}")
        return await super().submit(entries, agent)


def test_a_batch_never_holds_two_runs_of_one_scenario(tmp_path: Path) -> None:
    cekura = StrictCekura(polls_to_finish=2)
    records, _ = execute(
        tmp_path,
        plan(24, {"a": None}, scenarios=3),
        cekura,
        {"a": FakeSource("a", None)},
        concurrency=24,
        batch_size=10,
    )
    assert [r.outcome for r in records] == [Outcome.PASSED] * 24
    assert max(len(batch) for batch in cekura.batches) == 3  # as full as it may be
    sent = Counter(entry["publish_data_message"]["i"] for b in cekura.batches for entry in b)
    assert sent == Counter(range(24))


class ScriptedAnswers(FakeCekura):
    """Answers with the run id `script` gives each entry (by its run's index): None for
    an entry the answer has no run for."""

    def __init__(self, script: Mapping[int, int | None]) -> None:
        super().__init__(polls_to_finish=1)
        self.script = script

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        self.batches.append(list(entries))
        ids: list[int | None] = []
        unmatched: dict[int, str] = {}
        for index, entry in enumerate(entries):
            run_id = self.script[entry["publish_data_message"]["i"]]
            ids.append(run_id)
            if run_id is None:
                unmatched[index] = f"Cekura's answer lists no run for scenario {entry['scenario']}"
            else:
                self.seen.setdefault(run_id, 0)
        return Submitted(len(self.batches), tuple(ids), unmatched)


def test_runs_an_answer_cannot_tell_apart_are_unknown_and_never_sent_again(
    tmp_path: Path,
) -> None:
    the_plan = plan(4, {"a": None}, scenarios=4)
    cekura = ScriptedAnswers({0: 101, 1: 102, 2: None, 3: 101})
    # one run at a time: run 3's answer comes after run 0's
    records = by_key(
        execute(tmp_path, the_plan, cekura, {"a": FakeSource("a", None)}, concurrency=1)[0]
    )
    assert records["k000"].outcome is Outcome.PASSED and records["k000"].run_id == 101
    assert records["k001"].outcome is Outcome.PASSED
    for key, reason in (("k002", "lists no run for scenario 32"), ("k003", "seen before")):
        assert records[key].outcome is Outcome.UNKNOWN and records[key].run_id is None
        assert reason in (records[key].error or ""), records[key]
    state = replay(tmp_path / JOURNAL)
    assert "lists no run for scenario 32" in (state.runs["k002"].unknown or "")
    assert "run 101, seen before" in (state.runs["k003"].unknown or "")
    assert state.runs["k003"].run_id is None
    assert len(cekura.batches) == 4
    # resumed, they stay unknown and are not sent again
    again = FakeCekura()
    journal = Journal(tmp_path / JOURNAL)
    clock = Clock()
    executor = Executor(
        the_plan,
        cekura=again,
        sources={"a": FakeSource("a", None)},
        journal=journal,
        settings=Settings(now=clock.now, sleep=clock.sleep, batch_window=0.0),
    )
    try:
        executor.restore(replay(tmp_path / JOURNAL))
        resumed = by_key(asyncio.run(executor.run()))
    finally:
        journal.close()
    assert again.batches == []
    assert resumed["k002"].outcome is Outcome.UNKNOWN
    assert resumed["k003"].outcome is Outcome.UNKNOWN


# -- resuming a run whose Cekura (the in-process emulator) is gone


def test_runs_lost_with_the_emulator_do_not_make_new_runs_unknown(tmp_path: Path) -> None:
    the_plan = plan(3, {"a": None}, scenarios=3)
    journal = journal_of(tmp_path, the_plan)
    journal.write(
        "intent", batch=1, keys=["k000"], rooms={"k000": {"source": "a", "url": "u", "handle": "h"}}
    )
    journal.write("submitted", batch=1, result_id=1, runs={"k000": 101})
    journal.close()
    fresh = FakeCekura(polls_to_finish=1)  # a new emulator: its run ids start at 101 again
    executor, journal, _ = executor_for(
        tmp_path, the_plan, fresh, {"a": FakeSource("a", None)}, resumed=True
    )
    try:
        executor.restore(replay(tmp_path / JOURNAL), lost_live="lost with the emulator")
        records = by_key(asyncio.run(executor.run()))
    finally:
        journal.close()
    assert records["k000"].outcome is Outcome.UNKNOWN
    assert len(fresh.batches) >= 1
    assert records["k001"].outcome is Outcome.PASSED, records["k001"]
    assert records["k002"].outcome is Outcome.PASSED, records["k002"]
