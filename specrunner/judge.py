"""Verdicts: each cell judged by its `expect` rule over its repeats, and the suite's.

Pure functions of outcomes and numbers, so they are tested with exact values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from specrunner.report.records import OutcomeName
from specrunner.stopping import met

# Typed as the report's outcome names, so that the views can index a report's outcome
# counts by them.
OUTCOMES: tuple[OutcomeName, ...] = (
    "passed",
    "failed",
    "error",
    "unknown",
    "not_run",
    "not_needed",
)
Z95 = 1.959963984540054


def wilson(passes: int, runs: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a pass rate (95% by default); None without runs."""
    if runs <= 0:
        return None
    rate = passes / runs
    denominator = 1 + z * z / runs
    centre = (rate + z * z / (2 * runs)) / denominator
    margin = z * math.sqrt(rate * (1 - rate) / runs + z * z / (4 * runs * runs)) / denominator
    return (max(0.0, centre - margin), min(1.0, centre + margin))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Rule:
    pass_rate: float | None = 1.0
    min_passes: int | None = None

    def met(self, passes: int, runs: int) -> bool:
        return met(passes, runs, self.pass_rate, self.min_passes)


@dataclass(frozen=True, slots=True)
class CellCounts:
    outcomes: Mapping[str, int]

    @property
    def runs(self) -> int:
        """The runs that count: all but those a sequential cell did not need."""
        return sum(n for outcome, n in self.outcomes.items() if outcome != "not_needed")

    @property
    def passes(self) -> int:
        return self.outcomes.get("passed", 0)

    @property
    def pass_rate(self) -> float | None:
        return self.passes / self.runs if self.runs else None

    @property
    def flaky(self) -> bool:
        """The cell both passed and failed (an evaluation failure, not an error)."""
        return self.passes > 0 and self.outcomes.get("failed", 0) > 0


def count(outcomes: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        counts[outcome] += 1
    return counts


def mean_scores(metrics: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Per metric name, the mean of its scores."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for name, score in metrics:
        sums[name] = sums.get(name, 0.0) + score
        counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sorted(sums)}
