"""When a sequential cell may stop sending runs: its verdict decided exactly, or at a
confidence (docs/reports.md, "Sequential cells").

Pure arithmetic on a cell's counts (runs that passed, runs that did not), shared by the
executor, which sends a cell's runs one after another, and the reports, which say why a
cell stopped. The rule of a verdict (`met`) lives here too, so that both judge alike.

- Exactly: the runs not yet sent can no longer change the verdict all `max` runs would
  give (the passes are reached, or out of reach).
- Statistically (with a confidence c, for a `pass_rate` strictly between 0 and 1): Wald's
  sequential probability ratio test of the pass rate p_hi against p_lo, the rates whose
  odds are ODDS_FACTOR times and 1/ODDS_FACTOR times the threshold's. After each result,
  LLR = passes * ln(p_hi/p_lo) + others * ln((1-p_hi)/(1-p_lo)); the cell is decided met
  at LLR >= ln(1/(1-c)), not met at LLR <= ln(1-c), each only when the pass rate of the
  runs so far says the same. By Ville's inequality, a cell whose true pass rate is p_lo or
  lower stops on confidence as met with probability at most 1-c, and one at p_hi or
  higher stops on confidence as not met with probability at most 1-c.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

ODDS_FACTOR = 3.0
"""How far from the threshold, as a factor on its odds p/(1-p), the pass rates lie that
the statistical test tells apart (0.9 -> 0.75 and 0.964)."""
_EPSILON = 1e-9
"""Slack for float arithmetic in a rate compared with its threshold."""


def met(passes: int, runs: int, pass_rate: float | None, min_passes: int | None) -> bool:
    """Whether `passes` of `runs` meet the rule: `min_passes` passes, or a pass rate of at
    least `pass_rate` (1.0 when neither is given)."""
    if min_passes is not None:
        return passes >= min_passes
    rate = 1.0 if pass_rate is None else pass_rate
    return passes >= rate * runs - _EPSILON


class Stop(StrEnum):
    """Why a sequential cell stopped sending runs."""

    EXACT = "exact"
    """The runs not sent could no longer change the verdict."""
    CONFIDENCE = "confidence"
    """The pass rate was decided at the cell's confidence."""
    MAX = "max"
    """Every run was sent."""
    UNFINISHED = "unfinished"
    """The run stopped before the cell was decided (interrupted, or a failure)."""


@dataclass(frozen=True, slots=True)
class Decision:
    met: bool
    stop: Stop
    """EXACT or CONFIDENCE."""


@dataclass(frozen=True, slots=True)
class RatioTest:
    """The statistical test of a threshold: log-likelihood-ratio steps and bounds."""

    confidence: float
    low: float
    """p_lo: a true pass rate this low or lower is judged met on confidence at most 1-c."""
    high: float
    """p_hi: a true pass rate this high or higher is judged not met on confidence at most
    1-c."""
    step_pass: float
    step_other: float
    upper: float
    lower: float

    @classmethod
    def of(cls, pass_rate: float, confidence: float) -> RatioTest:
        k, odds = ODDS_FACTOR, pass_rate / (1 - pass_rate)
        alpha = 1 - confidence
        # ln(p_hi/p_lo) = ln(1 + (k²-1)/(1 + k·odds)) and ln((1-p_hi)/(1-p_lo)) =
        # -ln(1 + (k²-1)·odds/(k + odds)), written so that a rate near 0 or 1 keeps them
        # finite (1 - p_hi would round to 0).
        return cls(
            confidence=confidence,
            low=odds / (k + odds),
            high=k * odds / (1 + k * odds),
            step_pass=math.log1p((k * k - 1) / (1 + k * odds)),
            step_other=-math.log1p((k * k - 1) * odds / (k + odds)),
            upper=math.log(1 / alpha),
            lower=math.log(alpha),
        )

    def llr(self, passes: int, others: int) -> float:
        return passes * self.step_pass + others * self.step_other


@dataclass(frozen=True, slots=True)
class StopRule:
    """A sequential cell's stopping rule: at least `min` runs, at most `max`, its verdict
    rule, and the confidence it may stop at (None: exactly only)."""

    min: int
    max: int
    pass_rate: float | None = 1.0
    min_passes: int | None = None
    confidence: float | None = None
    test: RatioTest | None = None
    """The statistical test, when the rule has one (see `of`)."""

    @classmethod
    def of(
        cls,
        min: int,
        max: int,
        pass_rate: float | None = 1.0,
        min_passes: int | None = None,
        confidence: float | None = None,
    ) -> StopRule:
        """The rule; a confidence counts for a `pass_rate` strictly between 0 and 1 only
        (a count, or every run or none, is decided exactly)."""
        test = None
        rate = pass_rate if min_passes is None else None
        if confidence is not None and rate is not None and 0 < rate < 1:
            test = RatioTest.of(rate, confidence)
        return cls(min, max, pass_rate, min_passes, confidence, test)

    def met(self, passes: int, runs: int) -> bool:
        return met(passes, runs, self.pass_rate, self.min_passes)

    def decision(self, passes: int, others: int) -> Decision | None:
        """The verdict, once `passes` and `others` (runs that did not pass) decide it."""
        runs = passes + others
        left = max(self.max - runs, 0)
        if self.met(passes, self.max):  # the fewest passes all runs could have
            return Decision(True, Stop.EXACT)
        if not self.met(passes + left, self.max):  # the most
            return Decision(False, Stop.EXACT)
        test = self.test
        if test is None or runs == 0:
            return None
        llr = test.llr(passes, others)
        so_far = self.met(passes, runs)
        if llr >= test.upper - _EPSILON and so_far:
            return Decision(True, Stop.CONFIDENCE)
        if llr <= test.lower + _EPSILON and not so_far:
            return Decision(False, Stop.CONFIDENCE)
        return None

    def to_decide(self, passes: int, others: int) -> int:
        """The fewest further results that could decide the cell (all passes, or all not):
        0 when it is decided; the runs left when none could. A cell never needs more
        runs in flight than this, past its `min`."""
        if self.decision(passes, others) is not None:
            return 0
        left = self.max - passes - others
        if left <= 0:
            return 0
        by_passes = _first(lambda k: self.decision(passes + k, others) is not None, left)
        by_others = _first(lambda k: self.decision(passes, others + k) is not None, left)
        return min(by_passes, by_others, left)

    def why(self, passes: int, others: int, not_needed: int) -> Stop:
        """Why the cell stopped, from what became of its runs: `passes` and `others` that
        count, and `not_needed` never sent because the cell was decided."""
        decided = self.decision(passes, others)
        if not_needed and decided is not None:
            return decided.stop
        if passes + others >= self.max:
            return Stop.MAX
        return Stop.UNFINISHED


def _first(decides: Callable[[int], bool], limit: int) -> int:
    """The smallest k in 1..limit for which `decides(k)` holds (it holds for every larger
    k once it holds); limit + 1 when none does."""
    low, high = 1, limit + 1
    while low < high:
        middle = (low + high) // 2
        if decides(middle):
            high = middle
        else:
            low = middle + 1
    return low


def stop_text(stop: Stop, rule: StopRule, sent: int, met: bool) -> str:
    """Why a cell stopped, in words: `decided at 95% confidence (pass rate above 0.6)`."""
    verdict = "met" if met else "not met"
    if stop is Stop.EXACT:
        return f"{verdict} whatever the other {rule.max - sent} runs would do"
    if stop is Stop.CONFIDENCE:
        assert rule.confidence is not None and rule.pass_rate is not None
        side = "above" if met else "below"
        return f"pass rate {side} {rule.pass_rate:g} at {rule.confidence * 100:g}% confidence"
    if stop is Stop.MAX:
        return f"all {rule.max} runs sent"
    return "stopped before the cell was decided"
