"""The scheduler with fakes: slots and capacity, batching, one poll per tick for live runs
only, timeouts, and how each kind of submission failure ends its runs."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from specrunner.cekura import Failure, SubmitError, Submitted
from specrunner.errors import RemoteError
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.execute.replay import replay
from specrunner.masking import Secrets
from specrunner.models import (
    Outcome,
    Plan,
    PlannedRun,
    RoomConfig,
    RoomSourceKind,
    RoomSpec,
    Selection,
)
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomLease, RoomSource
from specrunner.rooms.static import StaticRoom, StaticRoomSource


def plan(
    runs: int, rooms: dict[str, int | None], timeout: float = 600.0, scenarios: int = 3
) -> Plan:
    names = list(rooms)
    planned = tuple(
        PlannedRun(
            key=f"k{i:03d}",
            index=i,
            scenario_id=30 + i % scenarios,
            scenario=f"s{i % scenarios}",
            cell={},
            repeat=i // 3 + 1,
            room=names[i % len(names)],
            timeout=timeout,
            publish_data_message={"i": i},
            shown_payload={"i": i},
        )
        for i in range(runs)
    )

    def never_rendered(environ: Mapping[str, str]) -> RoomConfig:
        raise AssertionError("the executor is given room sources; it renders no room")

    specs = {
        name: RoomSpec(name, RoomSourceKind.STATIC, capacity, (), (), render=never_rendered)
        for name, capacity in rooms.items()
    }
    return Plan(
        suite_name="fake",
        suite_file="fake.yaml",
        version=1,
        description=None,
        environment=None,
        agent=7,
        scenarios=(),
        runs=planned,
        rooms=specs,
        selection=Selection(),
        total_runs=runs,
        secrets=Secrets(),
    )


class FakeSource:
    def __init__(self, name: str, capacity: int | None) -> None:
        self.name, self.capacity = name, capacity
        self.held = self.peak = 0
        self.released: list[str] = []

    async def lease(self, run: PlannedRun) -> RoomLease:
        self.held += 1
        self.peak = max(self.peak, self.held)
        await asyncio.sleep(0)
        return RoomLease(self.name, f"https://x.daily.co/{run.key}", "token", run.key)

    async def release(self, lease: RoomLease) -> None:
        self.held -= 1
        self.released.append(lease.handle)

    async def adopt(self, lease: RoomLease) -> None:
        self.held += 1

    async def close(self) -> None:
        return None


class FakeCekura:
    """Runs complete after `polls_to_finish` polls; every call is recorded."""

    def __init__(
        self, polls_to_finish: int = 2, fail: Sequence[SubmitError] = (), success: bool = True
    ) -> None:
        self.polls_to_finish = polls_to_finish
        self.fail = list(fail)
        self.success = success
        self.batches: list[list[Mapping[str, Any]]] = []
        self.polls: list[list[int]] = []
        self.ended: list[int] = []
        self.seen: dict[int, int] = {}
        self.live_peak = 0
        self._next = 100

    def shuffled(self, run_ids: Sequence[int]) -> list[int]:
        order = list(run_ids)
        random.Random(len(self.polls)).shuffle(order)
        return order

    def _live(self) -> int:
        return sum(1 for n in self.seen.values() if n < self.polls_to_finish)

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        if self.fail:
            raise self.fail.pop(0)
        self.batches.append(list(entries))
        ids = []
        for _ in entries:
            self._next += 1
            ids.append(self._next)
            self.seen[self._next] = 0
        self.live_peak = max(self.live_peak, self._live())
        return Submitted(len(self.batches), tuple(ids))

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        self.polls.append(list(run_ids))
        out = []
        # The real API promises no order: answer in a shuffled (seeded) one.
        for run_id in self.shuffled(run_ids):
            self.seen[run_id] += 1
            done = self.seen[run_id] >= self.polls_to_finish
            out.append(
                {
                    "id": run_id,
                    "status": "completed" if done else "running",
                    "success": self.success if done else False,
                }
            )
        return out

    async def end_call(self, run_id: int) -> None:
        self.ended.append(run_id)


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


def execute(
    tmp_path: Path,
    the_plan: Plan,
    cekura: FakeCekura,
    sources: Mapping[str, RoomSource],
    **settings: Any,
) -> tuple[list[Any], Executor]:
    clock = Clock()

    async def no_wait(_: float) -> None:
        await asyncio.sleep(0)

    journal = Journal(tmp_path / JOURNAL)
    journal.write("start", keys=[r.key for r in the_plan.runs], request={})
    defaults: dict[str, Any] = {
        "concurrency": 10,
        "batch_size": 10,
        "poll_interval": 1.0,
        "batch_window": 0.0,
        "now": clock.now,
        "sleep": clock.sleep,
        "submit_retry": RetryPolicy(sleep=no_wait, deadline=60.0, now=clock.now),
    }
    defaults.update(settings)
    executor = Executor(
        the_plan,
        cekura=cekura,
        sources=sources,
        journal=journal,
        settings=Settings(**defaults),
    )
    try:
        records = asyncio.run(executor.run())
    finally:
        journal.close()
    return records, executor


def test_concurrency_and_capacity_bound_runs_in_flight(tmp_path: Path) -> None:
    sources = {"a": FakeSource("a", 2), "b": FakeSource("b", None)}
    cekura = FakeCekura(polls_to_finish=3)
    records, _ = execute(
        tmp_path, plan(40, {"a": 2, "b": None}), cekura, sources, concurrency=5, batch_size=4
    )
    assert all(r.outcome is Outcome.PASSED for r in records)
    assert sources["a"].peak <= 2
    assert sources["a"].peak + sources["b"].peak <= 5 + 2  # each bounded on its own
    assert cekura.live_peak <= 5
    assert max(len(b) for b in cekura.batches) <= 4
    assert sorted(sources["a"].released + sources["b"].released) == [r.key for r in records]


def test_each_tick_polls_once_and_only_live_runs(tmp_path: Path) -> None:
    cekura = FakeCekura(polls_to_finish=2)
    records, _ = execute(
        tmp_path,
        plan(30, {"a": None}, scenarios=30),  # a batch holds each scenario once
        cekura,
        {"a": FakeSource("a", None)},
        concurrency=30,
        batch_size=30,
    )
    assert all(r.outcome is Outcome.PASSED for r in records)
    times: dict[int, int] = {}
    for ids in cekura.polls:
        assert len(ids) == len(set(ids))
        for run_id in ids:
            times[run_id] = times.get(run_id, 0) + 1
            assert times[run_id] <= 2, "a final run was polled again"
    assert len(cekura.polls) <= 4  # one request per tick, not one per run


def test_submissions_carry_room_token_payload_and_agent(tmp_path: Path) -> None:
    cekura = FakeCekura()
    execute(tmp_path, plan(3, {"a": None}), cekura, {"a": FakeSource("a", None)})
    entry = cekura.batches[0][0]
    assert entry == {
        "scenario": 30,
        "pipecat_room_url": "https://x.daily.co/k000",
        "pipecat_token": "token",
        "publish_data_message": {"i": 0},
    }
    journal = (tmp_path / JOURNAL).read_text()
    assert "token" not in json.dumps(
        [json.loads(line) for line in journal.splitlines() if '"intent"' in line]
    )


@pytest.mark.parametrize(
    ("failure", "outcome", "sends"),
    [
        (SubmitError(Failure.UNKNOWN, "dropped"), Outcome.UNKNOWN, 0),
        (SubmitError(Failure.REJECTED, "HTTP 400"), Outcome.ERROR, 0),
        (SubmitError(Failure.REFUSED, "HTTP 429", 0.5), Outcome.PASSED, 1),
    ],
)
def test_a_failed_submission_ends_its_runs_as_it_should(
    tmp_path: Path, failure: SubmitError, outcome: Outcome, sends: int
) -> None:
    cekura = FakeCekura(fail=[failure])
    records, _ = execute(
        tmp_path, plan(3, {"a": None}), cekura, {"a": FakeSource("a", None)}, batch_size=3
    )
    assert [r.outcome for r in records] == [outcome] * 3
    assert len(cekura.batches) == sends  # refused: sent again; the others never
    state = replay(tmp_path / JOURNAL)
    if outcome is Outcome.UNKNOWN:
        assert all(s.unknown for s in state.runs.values())


def test_a_refused_key_stops_the_run(tmp_path: Path) -> None:
    cekura = FakeCekura(fail=[SubmitError(Failure.AUTH, "Cekura refused the API key")])
    with pytest.raises(RemoteError, match="API key"):
        execute(tmp_path, plan(3, {"a": None}), cekura, {"a": FakeSource("a", None)})


def test_runs_past_their_timeout_have_their_calls_ended(tmp_path: Path) -> None:
    cekura = FakeCekura(polls_to_finish=1000)
    records, _ = execute(
        tmp_path, plan(3, {"a": None}, timeout=5.0), cekura, {"a": FakeSource("a", None)}
    )
    assert [r.outcome for r in records] == [Outcome.ERROR] * 3
    assert all("timed out" in (r.error or "") for r in records)
    assert sorted(cekura.ended) == sorted(r.run_id for r in records)


def test_resume_polls_existing_runs_and_sends_only_the_rest(tmp_path: Path) -> None:
    the_plan = plan(6, {"a": None})
    path = tmp_path / JOURNAL
    journal = Journal(path)
    journal.write("start", keys=[r.key for r in the_plan.runs], request={})
    journal.write(
        "intent",
        batch=1,
        keys=["k000", "k001"],
        rooms={"k000": {"source": "a", "url": "u0", "handle": "k000"}},
    )
    journal.write("submitted", batch=1, result_id=9, runs={"k000": 501, "k001": 502})
    journal.write(
        "final",
        key="k001",
        outcome="failed",
        status="completed",
        run_id=502,
        result_id=9,
        error=None,
    )
    journal.write("intent", batch=2, keys=["k002"])  # no answer journaled: unknown
    journal.close()
    cekura = FakeCekura(polls_to_finish=1)
    cekura.seen[501] = 0
    source = FakeSource("a", None)
    journal = Journal(path)
    clock = Clock()
    executor = Executor(
        the_plan,
        cekura=cekura,
        sources={"a": source},
        journal=journal,
        settings=Settings(now=clock.now, sleep=clock.sleep, batch_window=0.0),
    )
    try:
        executor.restore(replay(path))
        records = {r.key: r for r in asyncio.run(executor.run())}
    finally:
        journal.close()
    assert records["k000"].outcome is Outcome.PASSED and records["k000"].run_id == 501
    assert records["k001"].outcome is Outcome.FAILED
    assert records["k002"].outcome is Outcome.UNKNOWN
    sent = [e["pipecat_room_url"].rsplit("/", 1)[1] for b in cekura.batches for e in b]
    assert sent == ["k003", "k004", "k005"]
    assert "k000" in source.released  # the restored room was released when its run ended


class BrokenSource(FakeSource):
    async def lease(self, run: PlannedRun) -> RoomLease:
        if run.key == "k001":
            raise ValueError("boom")
        return await super().lease(run)


def test_a_room_source_that_breaks_fails_its_run_not_the_others(tmp_path: Path) -> None:
    cekura = FakeCekura()
    records, _ = execute(
        tmp_path, plan(4, {"a": 1}), cekura, {"a": BrokenSource("a", 1)}, concurrency=1
    )
    outcomes = {r.key: r.outcome for r in records}
    assert outcomes == {
        "k000": Outcome.PASSED,
        "k001": Outcome.ERROR,
        "k002": Outcome.PASSED,
        "k003": Outcome.PASSED,
    }
    assert "ValueError" in next(r.error for r in records if r.key == "k001")


def test_runs_cekura_kept_refusing_are_errors_now_and_sent_on_resume(tmp_path: Path) -> None:
    the_plan = plan(3, {"a": None})
    clock = Clock()
    refusals = [SubmitError(Failure.REFUSED, "HTTP 429", 1.0) for _ in range(50)]
    policy = RetryPolicy(sleep=clock.sleep, now=clock.now, deadline=5.0)
    records, _ = execute(
        tmp_path,
        the_plan,
        FakeCekura(fail=refusals),
        {"a": FakeSource("a", None)},
        submit_retry=policy,
    )
    assert [r.outcome for r in records] == [Outcome.ERROR] * 3
    assert all("gave up" in (r.error or "") for r in records)
    state = replay(tmp_path / JOURNAL)
    assert all(s.batch is None and s.final is None for s in state.runs.values())
    # resumed, they are sent
    cekura = FakeCekura()
    journal = Journal(tmp_path / JOURNAL)
    executor = Executor(
        the_plan,
        cekura=cekura,
        sources={"a": FakeSource("a", None)},
        journal=journal,
        settings=Settings(now=clock.now, sleep=clock.sleep, batch_window=0.0),
    )
    try:
        executor.restore(replay(tmp_path / JOURNAL))
        resumed = asyncio.run(executor.run())
    finally:
        journal.close()
    assert [r.outcome for r in resumed] == [Outcome.PASSED] * 3
    assert len(cekura.batches) == 1


class WatchedPool(StaticRoomSource):
    """A static pool that records which rooms host live runs, through the in-step path."""

    def __init__(self, rooms: int) -> None:
        pool = [StaticRoom(f"https://x.daily.co/pool-{i}") for i in range(rooms)]
        super().__init__("lab", pool, capacity=None)
        self.hosting: set[int] = set()
        self.shared = 0
        self.in_step = 0

    def lease_now(self, run: PlannedRun) -> RoomLease | None:
        lease = super().lease_now(run)
        if lease is not None:
            self.in_step += 1
            self.shared += lease.handle in self.hosting
            self.hosting.add(lease.handle)
        return lease

    async def lease(self, run: PlannedRun) -> RoomLease:  # waits in turn for a room
        lease = await super().lease(run)
        self.shared += lease.handle in self.hosting
        self.hosting.add(lease.handle)
        return lease

    def release_now(self, lease: RoomLease) -> None:
        self.hosting.discard(lease.handle)
        super().release_now(lease)


@pytest.mark.parametrize(("concurrency", "in_step"), [(3, 12), (5, 6)])
def test_a_static_pool_leases_and_releases_in_step_one_run_per_room(
    tmp_path: Path, concurrency: int, in_step: int
) -> None:
    # With more slots than rooms, the runs beyond the pool wait for a room in turn (a task
    # each); the others lease and give back in step. Either way a room hosts one run.
    pool = WatchedPool(rooms=3)
    cekura = FakeCekura(polls_to_finish=2)
    the_plan = plan(12, {"lab": None})
    records, _ = execute(tmp_path, the_plan, cekura, {"lab": pool}, concurrency=concurrency)
    assert [r.outcome for r in records] == [Outcome.PASSED] * 12
    assert pool.in_step == in_step
    assert pool.shared == 0  # no room ever hosted two runs at once
    assert pool.hosting == set() and len(pool._free) == 3  # every room given back
    rooms_sent = [e["pipecat_room_url"] for batch in cekura.batches for e in batch]
    assert len(rooms_sent) == 12 and set(rooms_sent) == {r.url for r in pool._rooms}
    journal = (tmp_path / JOURNAL).read_text().splitlines()
    released = [json.loads(line)["key"] for line in journal if '"released"' in line]
    assert sorted(released) == [f"k{i:03d}" for i in range(12)]


class HeldSecondAnswer(FakeCekura):
    """Runs are live until 6 s (of the fake clock) after `live` of them have been
    submitted, when the polls ask about every live run at once; then they end at the next
    poll. From then on, a bulk GET of a poll that has already had an answer (the fake clock
    stands still during a poll) is answered only once a run has been submitted after that
    answer (or after 5 s of real time, which counts as a failure): the executor must act
    on a poll's first answer before its second."""

    def __init__(self, clock: Clock, live: int) -> None:
        super().__init__(polls_to_finish=1)
        self.clock, self.live = clock, live
        self.full_at: float | None = None
        self.answered_at: float | None = None
        self.resubmitted = asyncio.Event()
        self.held = 0
        self.waited_out = 0

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        answer = await super().submit(entries, agent)
        if self.full_at is None and len(self.seen) >= self.live:
            self.full_at = self.clock.t
        if self.answered_at is not None:
            self.resubmitted.set()
        return answer

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        assert len(run_ids) <= 100  # the executor sends one GET per 100 live runs
        if self.full_at is None or self.clock.t < self.full_at + 6.0:
            return [{"id": i, "status": "running", "success": False} for i in run_ids]
        if self.answered_at == self.clock.t and not self.resubmitted.is_set():
            self.held += 1
            try:
                await asyncio.wait_for(self.resubmitted.wait(), 5.0)
            except TimeoutError:
                self.waited_out += 1
        found = await super().poll(run_ids)
        self.answered_at = self.clock.t
        return found


def test_a_polls_first_answer_frees_its_rooms_while_its_other_gets_are_answered(
    tmp_path: Path,
) -> None:
    clock = Clock()
    cekura = HeldSecondAnswer(clock, live=250)
    records, _ = execute(
        tmp_path,
        plan(400, {"a": None}, scenarios=40),
        cekura,
        {"a": FakeSource("a", None)},
        concurrency=250,
        now=clock.now,
        sleep=clock.sleep,
    )
    assert all(r.outcome is Outcome.PASSED for r in records)
    assert cekura.held >= 1  # a poll of more than 100 live runs did come
    assert cekura.waited_out == 0  # and its first answer was acted on at once
