"""Which injected faults hit a request: by rate (seeded) or on the Nth request to an endpoint."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from random import Random

from specrunner.emulator.config import Fault


@dataclass(frozen=True, slots=True)
class Decision:
    latency: float = 0.0
    fault: Fault | None = None
    """The fault that decides the answer (status, drop or applied-then-status), if any."""


class FaultPlan:
    def __init__(self, faults: tuple[Fault, ...], seed: int) -> None:
        self.faults = faults
        self._random = Random(f"faults:{seed}")
        self._counts: Counter[str] = Counter()

    def decide(self, endpoint: str, method: str) -> Decision:
        self._counts[endpoint] += 1
        number = self._counts[endpoint]
        latency = 0.0
        chosen: Fault | None = None
        for fault in self.faults:
            if not fault.applies_to(endpoint) or not self._hits(fault, number):
                continue
            if fault.latency is not None:
                latency += fault.latency
            elif chosen is None and (fault.applied_then_status is None or method == "POST"):
                chosen = fault
        return Decision(latency, chosen)

    def _hits(self, fault: Fault, number: int) -> bool:
        if fault.nth:
            return number in fault.nth
        if fault.rate is not None:
            return self._random.random() < fault.rate
        return True
