"""Verdict arithmetic, with exact numbers."""

from __future__ import annotations

import math

import pytest

from specrunner.judge import CellCounts, Rule, count, mean_scores, percentile, wilson


@pytest.mark.parametrize(
    ("passes", "runs", "low", "high"),
    [
        (0, 10, 0.0, 0.27753279),
        (5, 10, 0.23659309, 0.76340691),
        (10, 10, 0.72246721, 1.0),
        (1, 1, 0.20654931, 1.0),
        (81, 100, 0.72221155, 0.87485248),
    ],
)
def test_wilson_interval_at_95_percent(passes: int, runs: int, low: float, high: float) -> None:
    interval = wilson(passes, runs)
    assert interval is not None
    assert interval[0] == pytest.approx(low, abs=1e-7)
    assert interval[1] == pytest.approx(high, abs=1e-7)


def test_wilson_without_runs_is_none() -> None:
    assert wilson(0, 0) is None


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([4.0], 95, 4.0),
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4, 5], 95, 4.8),
        ([10, 1, 7], 50, 7),
    ],
)
def test_percentiles_interpolate(values: list[float], q: float, expected: float | None) -> None:
    result = percentile(values, q)
    assert result == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(
    ("rule", "passes", "runs", "met"),
    [
        (Rule(pass_rate=1.0), 3, 3, True),
        (Rule(pass_rate=1.0), 2, 3, False),
        (Rule(pass_rate=0.66), 2, 3, True),
        (Rule(pass_rate=0.67), 2, 3, False),
        (Rule(pass_rate=2 / 3), 2, 3, True),
        (Rule(pass_rate=None, min_passes=4), 4, 5, True),
        (Rule(pass_rate=None, min_passes=4), 3, 5, False),
        (Rule(pass_rate=0.0), 0, 2, True),
    ],
)
def test_rules(rule: Rule, passes: int, runs: int, met: bool) -> None:
    assert rule.met(passes, runs) is met


def test_counts_rates_and_flakiness() -> None:
    cell = CellCounts(count(["passed", "failed", "passed", "error"]))
    assert (cell.runs, cell.passes) == (4, 2)
    assert cell.pass_rate == 0.5
    assert cell.flaky
    assert not CellCounts(count(["passed", "error", "unknown"])).flaky  # no evaluation failure
    assert not CellCounts(count(["failed", "failed"])).flaky
    assert CellCounts(count([])).pass_rate is None


def test_mean_scores_per_metric() -> None:
    means = mean_scores([("latency", 600.0), ("latency", 900.0), ("outcome", 100.0)])
    assert means == {"latency": 750.0, "outcome": 100.0}
    assert math.isclose(mean_scores([("x", 0.1), ("x", 0.2)])["x"], 0.15)
