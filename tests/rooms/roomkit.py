"""Helpers shared by the room source tests: runs, configurations, time that never waits."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import httpx

from specrunner.emulator import ManualClock
from specrunner.masking import MASK
from specrunner.models import PlannedRun, RoomConfig, RoomSourceKind
from specrunner.retry import RetryPolicy

T = TypeVar("T")


def planned_run(key: str = "hello#1", timeout: float = 600.0) -> PlannedRun:
    return PlannedRun(
        key=key,
        index=0,
        scenario_id=30,
        scenario="hello",
        cell={},
        repeat=1,
        room="lab",
        timeout=timeout,
        publish_data_message=None,
        shown_payload=None,
    )


def room_config(
    source: str,
    name: str = "lab",
    *,
    secret: tuple[str, ...] = (),
    shown: Mapping[str, Any] | None = None,
    **values: Any,
) -> RoomConfig:
    """A rendered room configuration; the keys in `secret` came from `env` (shown ***),
    and `shown` replaces what is shown of some keys."""
    data = {"source": source, **values}
    masked = {k: (MASK if k in secret else v) for k, v in data.items()}
    return RoomConfig(name, RoomSourceKind(source), data, {**masked, **(shown or {})})


class FakeTime:
    """A clock and a sleep that never waits: sleeping moves the clock (and an emulator's
    ManualClock, when given) and records how long."""

    def __init__(self, emulator_clock: ManualClock | None = None) -> None:
        self.now_value = 0.0
        self.waits: list[float] = []
        self.emulator_clock = emulator_clock
        self.on_sleep: Callable[[float], Awaitable[None]] | None = None

    def now(self) -> float:
        return self.now_value

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now_value += seconds
        if self.emulator_clock is not None:
            self.emulator_clock.advance(seconds)
        if self.on_sleep is not None:
            await self.on_sleep(seconds)
        await asyncio.sleep(0)

    def policy(self, **options: Any) -> RetryPolicy:
        options.setdefault("max_attempts", 8)
        return RetryPolicy(sleep=self.sleep, now=self.now, rng=random.Random(0), **options)


def run_with_client(
    body: Callable[[httpx.AsyncClient], Awaitable[T]], *, timeout: float = 5.0
) -> T:
    """asyncio.run `body(client)` with a fresh httpx client (loopback only in these tests)
    whose requests give up after `timeout` seconds."""

    async def main() -> T:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await body(client)

    return asyncio.run(main())


def recorded(ledger_of: Callable[[], Any], endpoint: str, count: int) -> list[Any]:
    """The requests to `endpoint` in the emulator's ledger once there are `count` of them
    (a request the client stopped waiting for is recorded when the emulator answers it),
    or after 5 s; `ledger_of` is `lambda: emulator.ledger`."""
    deadline = time.monotonic() + 5.0
    while True:
        found = requests_to(ledger_of(), endpoint)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def requests_to(ledger: Any, endpoint: str) -> list[Any]:
    return [r for r in ledger.requests if r.endpoint == endpoint]
