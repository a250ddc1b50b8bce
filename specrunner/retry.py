"""Retries with capped exponential backoff and jitter, inside a deadline.

For requests that are safe to repeat (polls, room sources); never for a run submission
that may have reached Cekura. Time and randomness are injected, so tests run instantly.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
Now = Callable[[], float]


class RetryLater(Exception):
    """A failure worth another try; `after` is the server's Retry-After, in seconds."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


class GaveUp(Exception):
    """Every try failed, or the deadline passed; `reason` is the last failure's."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.reason = reason
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 0.5
    """The first backoff, in seconds; it doubles with each attempt."""
    cap: float = 30.0
    """The longest backoff."""
    deadline: float = 300.0
    """Seconds after the first attempt past which no further attempt starts."""
    max_attempts: int | None = None
    sleep: Sleep = field(default=asyncio.sleep, compare=False)
    now: Now = field(default=time.monotonic, compare=False)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int, after: float | None) -> float:
        """Seconds to wait before try `attempt + 1`: full jitter, at least Retry-After."""
        ceiling = min(self.cap, self.base * (2 ** (attempt - 1)))
        wait = self.rng.uniform(0, ceiling)
        return max(wait, after) if after is not None else wait

    async def call(self, attempt_once: Callable[[], Awaitable[T]]) -> T:
        """`attempt_once()` until it returns; it raises RetryLater for a failure worth
        another try (anything else propagates at once)."""
        started = self.now()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once()
            except RetryLater as failure:
                if self.max_attempts is not None and attempt >= self.max_attempts:
                    raise GaveUp(failure.reason, attempt) from None
                wait = self.backoff(attempt, failure.after)
                if self.now() + wait - started > self.deadline:
                    raise GaveUp(failure.reason, attempt) from None
                await self.sleep(wait)
