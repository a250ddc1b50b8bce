"""The circuit breaker for an unreachable Cekura: one budget of failures for the whole run.

Each batch retrying on its own would let a dead Cekura hold a run for minutes, batch after
batch. Instead every connection failure, of a submission or a poll, counts against one
budget: once failures have gone on for `budget` seconds with no success between them,
the breaker opens and stays open, and the run stops sending (it exits 3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Breaker:
    budget: float = 30.0
    """Seconds of failures, with no success between them, that open the breaker."""
    now: Callable[[], float] = field(default=lambda: 0.0, repr=False)
    failing_since: float | None = None
    reason: str | None = None
    """The last failure's description, once the breaker is open."""

    @property
    def open(self) -> bool:
        return self.reason is not None

    def failed(self, reason: str) -> bool:
        """Count a failure; True when the breaker is (now) open."""
        if self.reason is not None:
            return True
        moment = self.now()
        if self.failing_since is None:
            self.failing_since = moment
        if moment - self.failing_since >= self.budget:
            self.reason = reason
        return self.reason is not None

    def remaining(self) -> float:
        """Seconds of budget left (the whole budget while nothing fails)."""
        if self.reason is not None:
            return 0.0
        if self.failing_since is None:
            return self.budget
        return max(0.0, self.budget - (self.now() - self.failing_since))

    def succeeded(self) -> None:
        """Cekura answered: failures so far were passing (unless the breaker is open)."""
        if self.reason is None:
            self.failing_since = None
