"""The stopping rule of sequential cells: exact stopping against running every run, the
statistical test's stated error rates by simulation, and the fewest results to decide."""

from __future__ import annotations

import importlib.util
import random
import sys
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REPO
from specrunner.stopping import RatioTest, Stop, StopRule, met, stop_text


@st.composite
def rules(draw: st.DrawFn, *, confidence: bool = True) -> StopRule:
    most = draw(st.integers(1, 60))
    least = draw(st.integers(1, most))
    chosen = draw(st.none() | st.floats(0.5, 0.999)) if confidence else None
    if draw(st.booleans()):
        return StopRule.of(least, most, None, draw(st.integers(0, most)), chosen)
    rate = draw(
        st.sampled_from([0.0, 1.0, 0.5, 0.6, 0.66, 0.9, 0.95, 1 / 3])
        | st.floats(0, 1, allow_nan=False)
    )
    return StopRule.of(least, most, rate, None, chosen)


def one_at_a_time(rule: StopRule, outcomes: list[bool]) -> tuple[int, bool]:
    """Runs sent and the verdict, sending one run at a time until the rule decides."""
    passes = 0
    for sent, passed in enumerate(outcomes[: rule.max], start=1):
        passes += passed
        if sent >= rule.min and rule.decision(passes, sent - passes) is not None:
            return sent, rule.met(passes, sent)
    return rule.max, rule.met(passes, rule.max)


@settings(max_examples=400, deadline=None)
@given(rules(confidence=False), st.data())
def test_exact_stopping_never_changes_the_verdict(rule: StopRule, data: st.DataObject) -> None:
    outcomes = data.draw(st.lists(st.booleans(), min_size=rule.max, max_size=rule.max))
    sent, verdict = one_at_a_time(rule, outcomes)
    assert rule.min <= sent <= rule.max
    assert verdict == rule.met(sum(outcomes), rule.max)


@settings(max_examples=400, deadline=None)
@given(rules(confidence=False), st.data())
def test_an_exact_decision_holds_whatever_the_runs_still_in_flight_do(
    rule: StopRule, data: st.DataObject
) -> None:
    """Runs sent before the cell was decided count: with any of their outcomes (up to
    the maximum), the verdict over the runs sent is still the one all runs would give."""
    outcomes = data.draw(st.lists(st.booleans(), min_size=rule.max, max_size=rule.max))
    passes = 0
    for sent, passed in enumerate(outcomes, start=1):
        passes += passed
        decided = rule.decision(passes, sent - passes)
        if decided is not None:
            more = data.draw(st.integers(0, rule.max - sent))
            later = passes + sum(outcomes[sent : sent + more])
            assert rule.met(later, sent + more) == decided.met == rule.met(sum(outcomes), rule.max)
            return


@settings(max_examples=400, deadline=None)
@given(rules(), st.data())
def test_a_decision_agrees_with_the_runs_so_far(rule: StopRule, data: st.DataObject) -> None:
    """The verdict of a stopped cell is its rule over the runs sent: a decision never
    says otherwise."""
    passes = data.draw(st.integers(0, rule.max))
    others = data.draw(st.integers(0, rule.max - passes))
    decided = rule.decision(passes, others)
    if decided is not None and passes + others:
        assert decided.met == rule.met(passes, passes + others)


@settings(max_examples=400, deadline=None)
@given(rules(), st.data())
def test_fewer_results_than_to_decide_never_decide(rule: StopRule, data: st.DataObject) -> None:
    passes = data.draw(st.integers(0, rule.max))
    others = data.draw(st.integers(0, rule.max - passes))
    needed = rule.to_decide(passes, others)
    left = rule.max - passes - others
    if rule.decision(passes, others) is not None or left == 0:
        assert needed == 0
        return
    assert 1 <= needed <= left
    fewer = data.draw(st.integers(0, needed - 1))
    more_passes = data.draw(st.integers(0, fewer))
    assert rule.decision(passes + more_passes, others + fewer - more_passes) is None
    if needed < left:  # all passes, or none, decide in exactly that many
        assert any(rule.decision(passes + p, others + needed - p) is not None for p in (0, needed))


def test_to_decide_with_pass_rate_90_of_20() -> None:
    """Before any result: three failures decide exactly (18 passes are needed); with a
    confidence of 0.95, two do."""
    assert StopRule.of(1, 20, 0.9).to_decide(0, 0) == 3
    assert StopRule.of(1, 20, 0.9, confidence=0.95).to_decide(0, 0) == 2
    assert StopRule.of(1, 20, 0.9).to_decide(17, 0) == 1
    assert StopRule.of(1, 20, 0.9, confidence=0.95).to_decide(11, 0) == 1


def test_the_statistical_test_of_90_percent() -> None:
    """The worked example of docs/reports.md."""
    test = RatioTest.of(0.9, 0.95)
    assert round(test.low, 3) == 0.75
    assert round(test.high, 3) == 0.964
    assert round(test.step_pass, 4) == 0.2513
    assert round(test.step_other, 4) == -1.9459
    assert round(test.upper, 4) == 2.9957
    rule = StopRule.of(1, 20, 0.9, confidence=0.95)
    assert rule.decision(11, 0) is None
    decided = rule.decision(12, 0)
    assert decided is not None
    assert (decided.met, decided.stop) == (True, Stop.CONFIDENCE)
    decided = rule.decision(0, 2)
    assert decided is not None
    assert (decided.met, decided.stop) == (False, Stop.CONFIDENCE)
    assert rule.decision(5, 2) is None  # 1.2565 - 3.8918 = -2.64 > -2.9957
    decided = rule.decision(3, 2)
    assert decided is not None and not decided.met


def test_rates_near_0_and_1_keep_the_test_finite() -> None:
    """(hypothesis found 0.9999999999999999, whose 1 - p_hi rounds to 0.)"""
    for rate in (0.9999999999999999, 1e-300, 5e-324, 0.5):
        test = RatioTest.of(rate, 0.95)
        assert test.step_pass >= 0 and test.step_other <= 0, rate
    assert StopRule.of(1, 20, 0.9999999999999999, confidence=0.95).to_decide(0, 0) == 1


def test_a_confidence_counts_for_a_pass_rate_between_0_and_1_only() -> None:
    assert StopRule.of(1, 20, 1.0, confidence=0.95).test is None
    assert StopRule.of(1, 20, 0.0, confidence=0.95).test is None
    assert StopRule.of(1, 20, None, 5, confidence=0.95).test is None
    assert StopRule.of(1, 20, 0.5, confidence=0.95).test is not None


def test_the_emulator_cases_of_the_issue() -> None:
    """pass_rate 0.6, confidence 0.95, repeat {min: 3, max: 20}: four passes decide, and
    three failures (its min)."""
    rule = StopRule.of(3, 20, 0.6, confidence=0.95)
    assert rule.to_decide(0, 0) == 3
    assert rule.decision(3, 0) is None
    decided = rule.decision(4, 0)
    assert decided is not None and decided.met and decided.stop is Stop.CONFIDENCE
    decided = rule.decision(0, 3)
    assert decided is not None and not decided.met and decided.stop is Stop.CONFIDENCE


def simulated_stops(rule: StopRule, rate: float, trials: int, seed: int) -> dict[bool, int]:
    """How many of `trials` cells at a true `rate` stopped on confidence, by verdict."""
    rng = random.Random(seed)
    stops = {True: 0, False: 0}
    for _ in range(trials):
        passes = 0
        for sent in range(1, rule.max + 1):
            passes += rng.random() < rate
            decided = rule.decision(passes, sent - passes)
            if sent >= rule.min and decided is not None:
                if decided.stop is Stop.CONFIDENCE:
                    stops[decided.met] += 1
                break
    return stops


def test_the_stated_error_rates_hold_by_simulation() -> None:
    """docs/reports.md: at p_lo or below, at most 1-c of cells stop on confidence as met;
    at p_hi or above, at most 1-c as not met (a fixed seed, 4,000 cells each)."""
    for pass_rate, confidence, most in ((0.9, 0.95, 20), (0.9, 0.9, 200), (0.6, 0.95, 50)):
        rule = StopRule.of(1, most, pass_rate, confidence=confidence)
        assert rule.test is not None
        trials = 4000
        alpha = 1 - confidence
        low = simulated_stops(rule, rule.test.low, trials, seed=1)
        high = simulated_stops(rule, rule.test.high, trials, seed=2)
        assert low[True] / trials <= alpha, (pass_rate, confidence, most, low)
        assert high[False] / trials <= alpha, (pass_rate, confidence, most, high)
        # ... and the test does stop cells: it is not vacuous.
        assert low[False] + high[True] > trials // 4


def test_stop_text() -> None:
    rule = StopRule.of(3, 20, 0.6, confidence=0.95)
    assert stop_text(Stop.CONFIDENCE, rule, 4, True) == "pass rate above 0.6 at 95% confidence"
    assert stop_text(Stop.EXACT, rule, 12, True) == "met whatever the other 8 runs would do"
    assert stop_text(Stop.MAX, rule, 20, False) == "all 20 runs sent"
    assert rule.why(4, 0, 16) is Stop.CONFIDENCE
    assert rule.why(11, 9, 0) is Stop.MAX
    assert rule.why(2, 0, 0) is Stop.UNFINISHED


def test_met_is_the_rule_of_the_reports() -> None:
    assert met(9, 10, 0.9, None)
    assert not met(8, 10, 0.9, None)
    assert met(2, 10, None, 2)
    assert met(3, 3, None, None)
    assert not met(2, 3, None, None)


def _bench() -> ModuleType:
    path = REPO / "bench" / "bench_adaptive.py"
    spec = importlib.util.spec_from_file_location("bench_adaptive", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_adaptive"] = module
    spec.loader.exec_module(module)
    return module


def test_the_simulation_table_of_the_docs() -> None:
    """docs/reports.md shows bench/bench_adaptive.py's table at its default seed; and what
    the docs say of it holds: statistical stopping saves at least 40% of the runs, exact
    stopping is never more often wrong than fixed repeats, statistical stopping at most
    0.7 percentage points more often at any rate, and no rule can save more than exact
    stopping while never being more often wrong than fixed repeats."""
    bench = _bench()
    rows = bench.simulate(10_000, 15, 0.95)
    docs = (REPO / "docs" / "reports.md").read_text(encoding="utf-8")
    assert bench.table(rows) in docs
    fixed = sum(r.exact_runs["fixed"] for r in rows)
    assert 1 - sum(r.exact_runs["statistical"] for r in rows) / fixed >= 0.40
    assert 1 - sum(r.runs["statistical"] for r in rows) / fixed >= 0.40
    for row in rows:
        assert row.exact_wrong["exact"] <= row.exact_wrong["fixed"] + 1e-12
        assert row.exact_wrong["statistical"] <= row.exact_wrong["fixed"] + 0.007
    least = bench.bound([r.exact_wrong["fixed"] for r in rows])
    assert abs(least - sum(r.exact_runs["exact"] for r in rows)) < 0.05
