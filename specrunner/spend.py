"""What a plan may spend: the calls it can make, and an upper bound on their time.

Cekura bills voice minutes, so `plan`, `run --dry-run` and the question `run` asks on a
terminal all say the same two numbers, counted here once. A run of the plan makes one
call at most, and its call is ended at its timeout: the calls are the runs (for a cell
whose repeats stop early, the most it can make), and the call time is at most the sum of
their timeouts. Calls usually end well before their timeouts; the bound is what the plan
cannot pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from specrunner.models import PlannedRun
from specrunner.suite.duration import format_duration


@dataclass(frozen=True, slots=True)
class Spend:
    calls: int
    """Calls at most: one per run."""
    call_seconds: float
    """Seconds of calls at most, in all: the sum of the runs' timeouts."""

    @classmethod
    def of(cls, runs: Iterable[PlannedRun]) -> Spend:
        calls, seconds = 0, 0.0
        for run in runs:
            calls += 1
            seconds += run.timeout
        return cls(calls, seconds)

    @property
    def call_time(self) -> str:
        """The bound on call time as a person reads it: `50m`, `1h30m`, `120h`."""
        return format_duration(self.call_seconds)

    def sentence(self) -> str:
        """`Calls: at most 3, taking at most 50m in all (...).`, as `plan` and the dry run
        say it."""
        return (
            f"Calls: at most {self.calls:,}, taking at most {self.call_time} in all (the sum "
            "of their timeouts; most calls end sooner)."
        )
