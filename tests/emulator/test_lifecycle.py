"""The run lifecycle on the emulator clock: status order and timing, outcomes from the
configuration, seeded reproducibility, the fields of finished runs, and the concurrency cap."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    ManualClock,
    ScriptedOutcome,
    StaticRoom,
)

AUTH = {"X-CEKURA-API-KEY": "specrunner-emulator-key"}
DOMAIN = "https://specrunner-emulator.daily.co"
RUN = "/test_framework/v2/scenarios/run_scenarios_pipecat/"
BULK = "/test_framework/v2/runs/bulk/"
ROOMS = tuple(StaticRoom(f"lab-{i}") for i in range(1, 25))


def config(**overrides: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "daily_rooms": ROOMS,
        "queue_seconds": 0.5,
        "evaluation_seconds": 0.25,
        "defaults": Behaviour(duration=(4.0, 4.0), outcome=ScriptedOutcome.PASSED),
        "reply_order": "in_order",  # these tests pin the order of answers
    }
    values.update(overrides)
    return EmulatorConfig(**values)


@contextmanager
def serve(
    cfg: EmulatorConfig, clock: ManualClock | None = None
) -> Iterator[tuple[httpx.Client, ManualClock]]:
    clock = clock or ManualClock()
    with (
        Emulator(cfg, clock=clock) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        yield client, clock


def entry(scenario: int, room: int) -> dict[str, Any]:
    return {"scenario": scenario, "pipecat_room_url": f"{DOMAIN}/lab-{room}"}


def start(client: httpx.Client, entries: list[dict[str, Any]]) -> list[int]:
    response = client.post(RUN, json={"scenarios": entries}, headers=AUTH)
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["runs"]]


def bulk(client: httpx.Client, ids: list[int]) -> list[dict[str, Any]]:
    response = client.get(BULK, params={"run_ids": ",".join(map(str, ids))}, headers=AUTH)
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    assert [r["id"] for r in runs] == ids
    return runs


def statuses(client: httpx.Client, ids: list[int]) -> list[str]:
    return [run["status"] for run in bulk(client, ids)]


# ---- status order and timing -------------------------------------------------------------


def test_pending_running_evaluating_completed_at_the_configured_times() -> None:
    with serve(config()) as (client, clock):
        [run_id] = start(client, [entry(1, 1)])
        timeline = [
            (0.0, "pending"),
            (0.25, "pending"),
            (0.25, "running"),  # t = 0.5: queue_seconds over
            (3.75, "running"),  # t = 4.25
            (0.25, "evaluating"),  # t = 4.5: the 4 s call is over
            (0.125, "evaluating"),  # t = 4.625
            (0.125, "completed"),  # t = 4.75: evaluation_seconds over
            (100.0, "completed"),
        ]
        seen = []
        for step, expected in timeline:
            clock.advance(step)
            [run] = bulk(client, [run_id])
            seen.append(run["status"])
            assert run["status"] == expected, (clock.now(), seen)
            if expected == "pending":
                assert run["executed_at"] is None
                assert run["transcript"] == ""
            else:
                assert run["executed_at"] is not None
            if expected in ("pending", "running"):
                assert run["duration"] == "00:00"
                assert run["success"] is False
                assert "evaluation" not in run
        assert run["success"] is True


def test_statuses_are_only_applied_when_due_even_after_one_long_jump() -> None:
    with serve(config()) as (client, clock):
        first = start(client, [entry(1, 1)])
        clock.advance(4.5)  # one jump: the first run is evaluating now
        second = start(client, [entry(1, 2)])
        assert statuses(client, first + second) == ["evaluating", "pending"]
        clock.advance(0.5)
        assert statuses(client, first + second) == ["completed", "running"]


@pytest.mark.parametrize(
    ("outcome", "status", "success", "reason", "has_error"),
    [
        (ScriptedOutcome.PASSED, "completed", True, "customer-ended-call", False),
        (ScriptedOutcome.FAILED, "completed", False, "customer-ended-call", False),
        (ScriptedOutcome.ERROR, "failed", False, "pipecat-connection-failed", True),
        (ScriptedOutcome.TIMEOUT, "timeout", False, "exceeded-max-duration", True),
    ],
)
def test_a_fixed_outcome_decides_how_every_run_ends(
    outcome: ScriptedOutcome, status: str, success: bool, reason: str, has_error: bool
) -> None:
    cfg = config(scenarios={3: Behaviour(outcome=outcome, duration=(4.0, 4.0))})
    with serve(cfg) as (client, clock):
        ids = start(client, [entry(3, i) for i in range(1, 6)])
        clock.advance(0.5)
        assert set(statuses(client, ids)) == {"running"}
        clock.advance(4.0)
        expected_now = "evaluating" if status == "completed" else status
        assert set(statuses(client, ids)) == {expected_now}
        clock.advance(1.0)
        for run in bulk(client, ids):
            assert run["status"] == status
            assert run["success"] is success
            assert run["metadata"] == {"ended_reason": reason}
            assert bool(run["error_message"]) is has_error
            assert run["duration"] == "00:04"
            if status == "completed":
                assert run["evaluation_status"] == ("success" if success else "failure")
                assert run["expected_outcome"]["score"] == (100 if success else 50)
            else:
                assert "evaluation" not in run


@pytest.mark.parametrize(("probability", "success"), [(0.0, False), (1.0, True)])
def test_pass_probability_zero_and_one(probability: float, success: bool) -> None:
    cfg = config(defaults=Behaviour(pass_probability=probability, duration=(1.0, 2.0)))
    with serve(cfg) as (client, clock):
        ids = start(client, [entry(s, s) for s in range(1, 21)])
        clock.advance(10.0)
        runs = bulk(client, ids)
        assert {r["status"] for r in runs} == {"completed"}
        assert {r["success"] for r in runs} == {success}


def outcomes_for(seed: int) -> list[tuple[bool, str, str]]:
    cfg = config(seed=seed, defaults=Behaviour(pass_probability=0.5, duration=(1.0, 500.0)))
    with serve(cfg) as (client, clock):
        ids = start(client, [entry(1, room) for room in range(1, 21)])
        clock.advance(1000.0)
        return [(r["success"], r["duration"], r["transcript"]) for r in bulk(client, ids)]


def test_the_same_seed_gives_the_same_outcomes_and_durations() -> None:
    first = outcomes_for(7)
    assert first == outcomes_for(7)
    assert {success for success, _, _ in first} == {True, False}
    assert len({duration for _, duration, _ in first}) > 5
    other = outcomes_for(8)
    assert [d for _, d, _ in other] != [d for _, d, _ in first]
    assert [s for s, _, _ in other] != [s for s, _, _ in first]


def test_completed_runs_carry_the_evaluation_and_the_call() -> None:
    cfg = config(
        scenarios={
            5: Behaviour(name="Refund", outcome=ScriptedOutcome.PASSED, duration=(65.0, 65.0)),
            6: Behaviour(outcome=ScriptedOutcome.FAILED, duration=(125.4, 125.4)),
        }
    )
    with serve(cfg) as (client, clock):
        passed_id, failed_id = start(client, [entry(5, 1), entry(6, 2)])
        clock.advance(200.0)
        passed, failed = bulk(client, [passed_id, failed_id])
        assert passed["scenario_name"] == "Refund"
        assert failed["scenario_name"] == "Scenario 6"
        assert passed["duration"] == "01:05"
        assert failed["duration"] == "02:05"
        for run in (passed, failed):
            assert run["status"] == "completed"
            assert re.fullmatch(r"\d\d:\d\d", run["duration"])
            metrics = run["evaluation"]["metrics"]
            assert metrics and all({"id", "name", "type", "explanation"} <= set(m) for m in metrics)
            outcome = run["expected_outcome"]
            assert isinstance(outcome["score"], int | float)
            assert all(isinstance(text, str) for text in outcome["explanation"])
            assert all(
                {"outcome", "prompt_part", "aligned"} <= set(a)
                for a in outcome["outcome_alignments"]
            )
            assert isinstance(run["transcript"], str) and run["transcript"].strip()
            turns = run["transcript_object"]
            assert turns and all({"role", "content", "timestamp"} <= set(t) for t in turns)
            assert [t["timestamp"] for t in turns] == sorted(t["timestamp"] for t in turns)
            assert run["voice_recording_url"].startswith("https://")
            assert run["metadata"]["ended_reason"]
            assert run["error_message"] == ""
        binary = [m for m in passed["evaluation"]["metrics"] if m["type"].startswith("binary")]
        assert binary and all(m["score"] == 100 for m in binary)
        binary = [m for m in failed["evaluation"]["metrics"] if m["type"].startswith("binary")]
        assert binary and all(m["score"] == 0 for m in binary)
        assert passed["expected_outcome"]["score"] == 100
        assert failed["expected_outcome"]["score"] < 100


# ---- the concurrency cap ----------------------------------------------------------------


@pytest.mark.parametrize("cap", [1, 2, 3])
def test_max_concurrent_runs_queues_the_rest_and_starts_them_fifo(cap: int) -> None:
    runs = 7
    cfg = config(max_concurrent_runs=cap, defaults=Behaviour(duration=(10.0, 10.0)))
    with serve(cfg) as (client, clock):
        ids = start(client, [entry(1, room) for room in range(1, runs + 1)])
        assert set(statuses(client, ids)) == {"pending"}
        started_order: list[int] = []
        for _ in range(200):
            clock.advance(0.5)
            now = bulk(client, ids)
            running = [r["id"] for r in now if r["status"] == "running"]
            queued = [r["id"] for r in now if r["status"] == "in_queue"]
            assert len(running) <= cap
            if queued:
                assert len(running) == cap
            started_order += [r for r in running if r not in started_order]
            # FIFO: every queued run was created after every run that has started
            assert all(q > s for q in queued for s in started_order)
            if all(r["status"] == "completed" for r in now):
                break
        else:
            pytest.fail("the runs did not finish")
        assert started_order == ids


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
@given(
    cap=st.integers(min_value=1, max_value=3),
    batches=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=3),
    durations=st.lists(
        st.floats(min_value=0.5, max_value=20.0, allow_nan=False), min_size=1, max_size=12
    ),
    steps=st.lists(st.floats(min_value=0.05, max_value=7.0, allow_nan=False), max_size=30),
)
def test_never_more_than_the_cap_running_at_any_step(
    cap: int, batches: list[int], durations: list[float], steps: list[float]
) -> None:
    total = sum(batches)
    scenarios = {
        s: Behaviour(duration=(durations[(s - 1) % len(durations)],) * 2)
        for s in range(1, total + 1)
    }
    cfg = config(max_concurrent_runs=cap, scenarios=scenarios)
    with serve(cfg) as (client, clock):
        ids: list[int] = []
        created = 0
        plan = list(steps) + [25.0] * (2 * total + 2)
        for index, step in enumerate(plan):
            if index < len(batches):
                new = [entry(created + i + 1, created + i + 1) for i in range(batches[index])]
                ids += start(client, new)
                created += len(new)
            clock.advance(step)
            now = bulk(client, ids)
            running = [r for r in now if r["status"] == "running"]
            queued = [r for r in now if r["status"] == "in_queue"]
            assert len(running) <= cap, (clock.now(), [r["status"] for r in now])
            if queued:
                assert len(running) == cap, (clock.now(), [r["status"] for r in now])
            started = sorted(
                (r for r in now if r["executed_at"] is not None), key=lambda r: r["executed_at"]
            )
            assert [r["id"] for r in started] == sorted(r["id"] for r in started)
            assert all(q["id"] > s["id"] for q in queued for s in started if s not in queued), (
                "a later run started before an earlier queued one"
            )
        assert created == total
        assert {r["status"] for r in bulk(client, ids)} == {"completed"}


def test_with_the_real_clock_a_run_completes_with_tiny_timings() -> None:
    cfg = config(
        queue_seconds=0.01,
        evaluation_seconds=0.01,
        defaults=Behaviour(duration=(0.05, 0.05), outcome=ScriptedOutcome.PASSED),
    )
    with (
        Emulator(cfg) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        ids = start(client, [entry(1, 1), entry(2, 2)])
        seen: list[list[str]] = []
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            seen.append(statuses(client, ids))
            if seen[-1] == ["completed", "completed"]:
                break
            time.sleep(0.01)
        else:
            pytest.fail(f"not completed within 2 s: {seen[-1]}")
        assert [r["success"] for r in bulk(client, ids)] == [True, True]
        order = ["pending", "running", "evaluating", "completed"]
        for column in zip(*seen, strict=True):
            ranks = [order.index(status) for status in column]
            assert ranks == sorted(ranks), column
