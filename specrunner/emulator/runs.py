"""Cekura runs as a discrete-event simulation on the emulator clock.

A run is `pending` for its drawn queue time, then `running` when the account's concurrency
cap allows (else `in_queue` until a slot frees), runs its call for its drawn duration,
is `evaluating` for its drawn evaluation time, and ends `completed` (success true or
false), `failed` or `timeout`; `end_call` makes a live run `cancelled`. Nothing runs in
the background: `advance(now)` applies every transition due by `now`, in time order,
whenever a request arrives.

Memory stays flat: once every run of a result is final, the result joins the finished
ones, and the oldest finished results (with their runs) are forgotten while more than
`keep_finished` finished runs are kept. A forgotten run is an unknown id from then on.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from random import Random
from typing import Any

from specrunner.emulator.config import Behaviour, EmulatorConfig, ScriptedOutcome


class Status(StrEnum):
    PENDING = "pending"
    IN_QUEUE = "in_queue"
    RUNNING = "running"
    EVALUATING = "evaluating"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


FINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.TIMEOUT, Status.CANCELLED})
HOLDS_ROOM = frozenset({Status.PENDING, Status.IN_QUEUE, Status.RUNNING})


class _Event(IntEnum):
    READY = 0
    CALL_END = 1
    EVALUATED = 2


@dataclass(slots=True)
class Run:
    id: int
    result_id: int
    scenario: int
    scenario_name: str
    agent: int
    room_url: str
    token: str | None
    payload: Any
    created_at: float
    outcome: ScriptedOutcome
    duration: float
    queue: float = 0.0
    """Seconds `pending` before it may start."""
    evaluation: float = 0.0
    """Seconds `evaluating` after its call."""
    status: Status = Status.PENDING
    started_at: float | None = None
    call_ended_at: float | None = None
    finished_at: float | None = None
    error_message: str = ""
    ended_reason: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def success(self) -> bool:
        return self.status is Status.COMPLETED and self.outcome is ScriptedOutcome.PASSED


@dataclass(slots=True)
class Result:
    id: int
    agent: int
    run_ids: list[int]
    created_at: float
    live: int = 0
    """Runs not final yet."""
    sealed: bool = False
    """Every run of its POST is made: it may be finished (and later forgotten)."""


JoinCheck = Callable[[str, str | None, float], str | None]
CallEnded = Callable[[str, float], None]
RoomKey = Callable[[str], str]
RunSent = Callable[[str], None]


def _nothing(url: str) -> None:
    return None


@dataclass(slots=True)
class Simulation:
    config: EmulatorConfig
    join_problem: JoinCheck
    """Why a run's caller cannot join its room (or None), checked when its call starts."""
    call_ended: CallEnded
    """Told the room URL of every call that ends (its bot leaves then)."""
    room_key: RoomKey
    """The room a URL names: two spellings of one room are one room."""
    run_sent: RunSent = _nothing
    """Told the room URL of every run created (a bot waiting there knows its caller comes)."""
    runs: dict[int, Run] = field(default_factory=dict)
    results: dict[int, Result] = field(default_factory=dict)
    _events: list[tuple[float, int, _Event, int]] = field(default_factory=list)
    _waiting: deque[int] = field(default_factory=deque)
    _rooms: dict[str, int] = field(default_factory=dict)
    _finished: deque[int] = field(default_factory=deque)
    """Ids of results whose runs are all final, oldest first."""
    _finished_runs: int = 0
    forgotten_runs: int = 0
    _running: int = 0
    _live: int = 0
    _seq: int = 0
    _next_run: int = 1000
    _next_result: int = 500

    def new_result(self, agent: int, now: float) -> Result:
        self._next_result += 1
        result = Result(self._next_result, agent, [], now)
        self.results[result.id] = result
        return result

    def new_run(
        self,
        result: Result,
        scenario: int,
        room_url: str,
        token: str | None,
        payload: Any,
        now: float,
    ) -> Run:
        self._next_run += 1
        run_id = self._next_run
        config = self.config
        behaviour = config.behaviour(scenario)
        draw = Random(f"{config.seed}:{run_id}")
        # The outcome and duration are drawn first, as they always were: a seed keeps them.
        outcome = _outcome(behaviour, draw)
        duration = draw.uniform(*config.call_range(behaviour))
        run = Run(
            id=run_id,
            result_id=result.id,
            scenario=scenario,
            scenario_name=behaviour.name or f"Scenario {scenario}",
            agent=result.agent,
            room_url=room_url,
            token=token,
            payload=payload,
            created_at=now,
            outcome=outcome,
            duration=duration,
            queue=draw.uniform(*config.queue_range()),
            evaluation=draw.uniform(*config.evaluation_range()),
        )
        self.runs[run_id] = run
        result.run_ids.append(run_id)
        result.live += 1
        self._live += 1
        room = self.room_key(room_url)
        self.run_sent(room_url)
        holder = self._rooms.get(room)
        if holder is not None:
            self._finish(
                run,
                Status.FAILED,
                now,
                "room_busy",
                f"Room busy: run {holder} is already live in {room_url}",
            )
            return run
        self._rooms[room] = run_id
        self._schedule(now + run.queue, _Event.READY, run_id)
        return run

    def seal(self, result: Result) -> None:
        """Every run of `result` is made."""
        result.sealed = True
        if result.live == 0:
            self._retire(result)

    def advance(self, now: float) -> None:
        """Apply every transition due by `now`, in time order."""
        while self._events and self._events[0][0] <= now:
            at, _, event, run_id = heapq.heappop(self._events)
            run = self.runs.get(run_id)
            if run is None:
                continue  # cancelled, then forgotten
            if event is _Event.READY and run.status is Status.PENDING:
                if self._has_slot():
                    self._start(run, at)
                else:
                    run.status = Status.IN_QUEUE
                    self._waiting.append(run_id)
            elif event is _Event.CALL_END and run.status is Status.RUNNING:
                self._end_call(run, at)
                if run.outcome is ScriptedOutcome.ERROR:
                    self._finish(
                        run,
                        Status.FAILED,
                        at,
                        "pipecat-connection-failed",
                        "The call failed: the agent did not answer in the room",
                    )
                elif run.outcome is ScriptedOutcome.TIMEOUT:
                    self._finish(
                        run,
                        Status.TIMEOUT,
                        at,
                        "exceeded-max-duration",
                        "The call exceeded its maximum duration",
                    )
                else:
                    run.status = Status.EVALUATING
                    self._schedule(at + run.evaluation, _Event.EVALUATED, run_id)
            elif event is _Event.EVALUATED and run.status is Status.EVALUATING:
                self._finish(run, Status.COMPLETED, at, "customer-ended-call", "")

    def cancel(self, run: Run, now: float) -> None:
        """End a live run's call now (Cekura's end_call)."""
        if run.final:
            return
        if run.status is Status.RUNNING:
            self._end_call(run, now)
        self._release(run)
        self._finish(run, Status.CANCELLED, now, "call-ended-by-api", "")

    def live(self) -> int:
        return self._live

    def running(self) -> int:
        return self._running

    # -- internals

    def _schedule(self, at: float, event: _Event, run_id: int) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, self._seq, event, run_id))

    def _has_slot(self) -> bool:
        cap = self.config.max_concurrent_runs
        return cap is None or self._running < cap

    def _start(self, run: Run, at: float) -> None:
        problem = self.join_problem(run.room_url, run.token, at)
        if problem is not None:
            self._release(run)
            self._finish(run, Status.FAILED, at, "pipecat-connection-failed", problem)
            return
        run.status = Status.RUNNING
        run.started_at = at
        self._running += 1
        self._schedule(at + run.duration, _Event.CALL_END, run.id)

    def _end_call(self, run: Run, at: float) -> None:
        run.call_ended_at = at
        self._running -= 1
        self._release(run)
        self.call_ended(run.room_url, at)
        while self._waiting and self._has_slot():
            waiting = self.runs.get(self._waiting.popleft())
            if waiting is not None and waiting.status is Status.IN_QUEUE:
                self._start(waiting, at)

    def _release(self, run: Run) -> None:
        room = self.room_key(run.room_url)
        if self._rooms.get(room) == run.id:
            del self._rooms[room]

    def _finish(self, run: Run, status: Status, at: float, reason: str, message: str) -> None:
        run.status = status
        run.finished_at = at
        run.ended_reason = reason
        run.error_message = message
        self._live -= 1
        result = self.results.get(run.result_id)
        if result is not None:
            result.live -= 1
            if result.live == 0 and result.sealed:
                self._retire(result)

    def _retire(self, result: Result) -> None:
        self._finished.append(result.id)
        self._finished_runs += len(result.run_ids)
        # The newest finished result stays, however many runs it has.
        while self._finished_runs > self.config.keep_finished and len(self._finished) > 1:
            old = self.results.pop(self._finished.popleft())
            for run_id in old.run_ids:
                del self.runs[run_id]
            self._finished_runs -= len(old.run_ids)
            self.forgotten_runs += len(old.run_ids)


def _outcome(behaviour: Behaviour, draw: Random) -> ScriptedOutcome:
    if behaviour.outcome is not None:
        return behaviour.outcome
    return (
        ScriptedOutcome.PASSED
        if draw.random() < behaviour.pass_probability
        else ScriptedOutcome.FAILED
    )
