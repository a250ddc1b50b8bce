"""The gate of sequential cells, driven by hand with results in any order: runs go in
repeat order, never more in flight than could still be needed, and a cell stops exactly
where sending one run at a time would (so exact stopping never changes a verdict)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_executor import Clock, FakeCekura, FakeSource, execute, plan

from specrunner.cekura import Submitted
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.execute.replay import replay
from specrunner.execute.sequence import Gate
from specrunner.execute.tracked import Tracked
from specrunner.models import (
    Expectation,
    Outcome,
    Plan,
    PlannedRun,
    RunRecord,
    SequentialCell,
    Snapshot,
)
from specrunner.stopping import StopRule


def cell_runs(name: str, sequence: SequentialCell, start: int = 0) -> list[Tracked]:
    return [
        Tracked(
            PlannedRun(
                key=f"{name}-{repeat}",
                index=start + repeat,
                scenario_id=1,
                scenario=name,
                cell={},
                repeat=repeat,
                room="lab",
                timeout=60.0,
                publish_data_message=None,
                shown_payload=None,
                sequence=sequence,
            )
        )
        for repeat in range(1, sequence.max + 1)
    ]


@st.composite
def sequences(draw: st.DrawFn, name: str) -> SequentialCell:
    most = draw(st.integers(1, 30))
    least = draw(st.integers(1, most))
    confidence = draw(st.none() | st.sampled_from([0.8, 0.9, 0.95, 0.99]))
    if draw(st.booleans()):
        expect = Expectation(pass_rate=None, min_passes=draw(st.integers(0, most)))
    else:
        rate = draw(st.sampled_from([0.0, 0.3, 0.5, 0.6, 0.9, 0.95, 1.0]))
        expect = Expectation(pass_rate=rate, confidence=confidence)
    return SequentialCell(name, least, most, expect)


def rule_of(sequence: SequentialCell) -> StopRule:
    e = sequence.expect
    return StopRule.of(sequence.min, sequence.max, e.pass_rate, e.min_passes, e.confidence)


def one_at_a_time(rule: StopRule, outcomes: list[bool]) -> int:
    """Where a cell sending one run at a time stops."""
    passes = 0
    for sent, passed in enumerate(outcomes, start=1):
        passes += passed
        if sent >= rule.min and rule.decision(passes, sent - passes) is not None:
            return sent
    return rule.max


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_gate_stops_where_one_at_a_time_would(data: st.DataObject) -> None:
    cells = [data.draw(sequences(f"c{i}")) for i in range(data.draw(st.integers(1, 3)))]
    outcomes = {
        c.cell: data.draw(st.lists(st.booleans(), min_size=c.max, max_size=c.max)) for c in cells
    }
    runs = [run for c in cells for run in cell_runs(c.cell, c)]
    gate = Gate(runs)
    rules = {c.cell: rule_of(c) for c in cells}
    in_flight: list[Tracked] = []
    sent: dict[str, list[int]] = {c.cell: [] for c in cells}
    results: dict[str, list[bool]] = {c.cell: [] for c in cells}

    def released(more: list[Tracked]) -> None:
        for run in more:
            name = run.planned.scenario
            rule = rules[name]
            passes = sum(results[name])
            others = len(results[name]) - passes
            flying = sum(1 for r in in_flight if r.planned.scenario == name)
            # Past its min, a run goes only while fewer are in flight than could decide.
            assert len(sent[name]) < rule.min or flying < rule.to_decide(passes, others)
            sent[name].append(run.planned.repeat)
            in_flight.append(run)

    first, unneeded = gate.start()
    assert not unneeded
    released(first)
    for _ in range(200):
        if not in_flight:
            break
        run = in_flight.pop(data.draw(st.integers(0, len(in_flight) - 1)))
        name = run.planned.scenario
        passed = outcomes[name][run.planned.repeat - 1]
        run.outcome = Outcome.PASSED if passed else Outcome.FAILED
        results[name].append(passed)
        more, _ = gate.result(run)
        released(more)
    assert not in_flight
    assert gate.open == 0
    for c in cells:
        rule = rules[c.cell]
        assert sent[c.cell] == list(range(1, len(sent[c.cell]) + 1))  # in repeat order
        stop = one_at_a_time(rule, outcomes[c.cell])
        assert len(sent[c.cell]) == stop
        mine = [r for r in runs if r.planned.scenario == c.cell]
        assert all(r.outcome is Outcome.NOT_NEEDED for r in mine[stop:])
        assert all(r.outcome is not Outcome.NOT_NEEDED for r in mine[:stop])
        passes = sum(outcomes[c.cell][:stop])
        if rule.test is None:  # exactly: the verdict all runs would give
            assert rule.met(passes, stop) == rule.met(sum(outcomes[c.cell]), rule.max)


def test_with_pass_rate_90_of_20_three_runs_go_first() -> None:
    """Before any result, three failures could decide the cell exactly: three runs go."""
    sequence = SequentialCell("c", 1, 20, Expectation(pass_rate=0.9))
    gate = Gate(cell_runs("c", sequence))
    first, _ = gate.start()
    assert [r.planned.repeat for r in first] == [1, 2, 3]
    sequence = SequentialCell("c", 5, 20, Expectation(pass_rate=0.9, confidence=0.95))
    first, _ = Gate(cell_runs("c", sequence)).start()
    assert [r.planned.repeat for r in first] == [1, 2, 3, 4, 5]  # its min, whatever else


def test_a_journal_that_decided_the_cell_leaves_nothing_to_send() -> None:
    sequence = SequentialCell("c", 3, 20, Expectation(pass_rate=0.6, confidence=0.95))
    runs = cell_runs("c", sequence)
    for run in runs[:4]:
        run.outcome = Outcome.PASSED  # as restored from a journal
    released, unneeded = Gate(runs).start()
    assert released == []
    assert unneeded == runs[4:]
    assert all(r.outcome is Outcome.NOT_NEEDED for r in runs[4:])
    assert runs[4].error is not None and "decided after 4 of 20 runs" in runs[4].error


def test_a_resumed_cell_counts_its_live_runs_and_sends_the_next_in_order() -> None:
    sequence = SequentialCell("c", 1, 20, Expectation(pass_rate=0.9))
    runs = cell_runs("c", sequence)
    runs[0].outcome = Outcome.PASSED
    runs[1].run_id = 501  # live: still in flight
    gate = Gate(runs)
    released, _ = gate.start()
    # one result, one in flight: three failures still decide, so two more may go
    assert [r.planned.repeat for r in released] == [3, 4]


# ---- in the executor, with fakes


class ByPayload(FakeCekura):
    """Each run passes or fails as its payload says; counts a cell's runs in Cekura."""

    def __init__(self) -> None:
        super().__init__(polls_to_finish=2)
        self.payloads: dict[int, Mapping[str, Any]] = {}
        self.flying: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.keys: list[str] = []

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        answer = await super().submit(entries, agent)
        for run_id, entry in zip(answer.run_ids, entries, strict=True):
            assert run_id is not None
            payload = entry["publish_data_message"]
            self.payloads[run_id] = payload
            self.keys.append(payload["key"])
            cell = payload["cell"]
            self.flying[cell] = self.flying.get(cell, 0) + 1
            self.peak[cell] = max(self.peak.get(cell, 0), self.flying[cell])
        return answer

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        found = await super().poll(run_ids)
        for data in found:
            payload = self.payloads[data["id"]]
            if data["status"] == "completed":
                data["success"] = payload["pass"]
                self.flying[payload["cell"]] -= 1
        return found


def mixed_plan(cells: Mapping[str, tuple[SequentialCell | None, list[bool]]]) -> Plan:
    runs: list[PlannedRun] = []
    for number, (name, (sequence, passes)) in enumerate(cells.items()):
        for repeat, passed in enumerate(passes, start=1):
            key = f"{name}-{repeat:02d}"
            payload = {"key": key, "cell": name, "pass": passed}
            runs.append(
                PlannedRun(
                    key,
                    len(runs),
                    30 + number,
                    name,
                    {},
                    repeat,
                    "a",
                    600.0,
                    payload,
                    payload,
                    sequence,
                )
            )
    base = plan(0, {"a": None})
    return dataclasses.replace(base, runs=tuple(runs), total_runs=len(runs))


def test_a_sequential_cell_among_others_stops_early_and_the_others_run(tmp_path: Path) -> None:
    confident = SequentialCell("good", 3, 20, Expectation(pass_rate=0.6, confidence=0.95))
    failing = SequentialCell("bad", 3, 20, Expectation(pass_rate=0.6, confidence=0.95))
    exact = SequentialCell("exact", 1, 20, Expectation(pass_rate=0.9))
    the_plan = mixed_plan(
        {
            "good": (confident, [True] * 20),
            "bad": (failing, [False] * 20),
            "exact": (exact, [True, False, False, False] + [True] * 16),
            "fixed": (None, [True] * 12),
        }
    )
    cekura = ByPayload()
    records, _ = execute(tmp_path, the_plan, cekura, {"a": FakeSource("a", None)}, concurrency=10)
    by_cell: dict[str, list[Outcome]] = {}
    for record in records:
        by_cell.setdefault(record.scenario, []).append(record.outcome)
    assert by_cell["good"] == [Outcome.PASSED] * 4 + [Outcome.NOT_NEEDED] * 16
    assert by_cell["bad"] == [Outcome.FAILED] * 3 + [Outcome.NOT_NEEDED] * 17
    assert by_cell["exact"] == [Outcome.PASSED] + [Outcome.FAILED] * 3 + [Outcome.NOT_NEEDED] * 16
    assert by_cell["fixed"] == [Outcome.PASSED] * 12
    assert cekura.peak["good"] <= 3 and cekura.peak["bad"] <= 3 and cekura.peak["exact"] <= 3
    assert len(cekura.keys) == len(set(cekura.keys)) == 4 + 3 + 4 + 12
    assert [k for k in cekura.keys if k.startswith("good")] == [
        f"good-{i:02d}" for i in (1, 2, 3, 4)
    ]
    unneeded = next(r for r in records if r.outcome is Outcome.NOT_NEEDED)
    assert unneeded.error is not None and unneeded.error.startswith("not needed: its cell")
    assert not unneeded.unsent  # --resume would not send it


def test_resume_rebuilds_a_cell_from_the_journal_and_sends_no_run_twice(tmp_path: Path) -> None:
    sequence = SequentialCell("c", 1, 20, Expectation(pass_rate=0.9))
    outcomes = [True] * 5 + [False] * 15  # decided (not met) at the 3rd failure: 8 runs
    the_plan = mixed_plan({"c": (sequence, outcomes)})
    clock = Clock()
    settings = Settings(concurrency=10, batch_window=0.0, now=clock.now, sleep=clock.sleep)

    def executed(cekura: ByPayload, **options: Any) -> list[RunRecord]:
        """Run (or, with `lost_live`, resume) the plan against `cekura`; its records."""
        lost = options.pop("lost_live", None)
        journal = Journal(tmp_path / JOURNAL)
        if lost is None:
            journal.write("start", keys=[r.key for r in the_plan.runs], request={})
        executor = Executor(
            the_plan,
            cekura=cekura,
            sources={"a": FakeSource("a", None)},
            journal=journal,
            settings=settings,
            **options,
        )
        if lost is not None:
            executor.restore(replay(tmp_path / JOURNAL), lost_live=lost)
        running.append(executor)
        try:
            return asyncio.run(executor.run())
        finally:
            journal.close()

    running: list[Executor] = []

    def stop_once_some_passed(snapshot: Snapshot) -> None:
        if snapshot.outcomes.get("passed", 0) >= 2:
            running[-1].stop()

    first = ByPayload()
    records = executed(first, progress=stop_once_some_passed)
    assert any(r.outcome is Outcome.NOT_RUN for r in records)  # it stopped early
    second = ByPayload()
    second._next = 10_000  # (another Cekura's ids: none seen before)
    records = executed(second, lost_live="lost with the first Cekura")
    assert not set(first.keys) & set(second.keys)  # no run sent twice
    sent = first.keys + second.keys
    assert sorted(sent) == [f"c-{i:02d}" for i in range(1, len(sent) + 1)]  # in order
    outcomes_now = [r.outcome for r in records]
    assert Outcome.NOT_RUN not in outcomes_now
    assert outcomes_now.count(Outcome.NOT_NEEDED) == 20 - len(sent)
