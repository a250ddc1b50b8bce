"""Emulator time: real time (optionally scaled), or a clock a test moves by hand."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds of emulator time since the emulator started."""
        ...


class RealClock:
    def __init__(self, scale: float = 1.0) -> None:
        self._start = time.monotonic()
        self._scale = scale

    def now(self) -> float:
        return (time.monotonic() - self._start) * self._scale


class ManualClock:
    """Time stands still until `advance` is called: for tests that must not wait."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
