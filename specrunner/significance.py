"""Whether a cell's pass count changed beyond chance: Fisher's exact test, one-sided, and
the Benjamini-Hochberg adjustment over many cells.

Pure functions of counts, computed in exact integer arithmetic (the p-values are exact
rationals until they are given as floats), so they are tested against values worked out
by hand from the formulas below.

Fisher's exact test. A cell passed `a` of `n1` runs before and `c` of `n2` runs now. If
the chance of passing did not change, then given the `k = a + c` passes of the `n = n1 +
n2` runs, which runs passed is as good as drawn at random, and the passes that fell
before, X, follow the hypergeometric distribution:

    P(X = x) = C(k, x) * C(n - k, n1 - x) / C(n, n1)

The cell got worse when more passes fell before than chance would put there: the p-value
of "worse" is P(X >= a), that of "better" is P(X <= a).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True, slots=True)
class Tails:
    """The one-sided p-values of a change in pass count, as exact fractions."""

    worse: Fraction
    """P(X >= a): the chance of a drop at least this large if nothing changed."""
    better: Fraction
    """P(X <= a): the chance of a rise at least this large if nothing changed."""


def fisher_tails(passed_before: int, runs_before: int, passed_now: int, runs_now: int) -> Tails:
    """Fisher's exact test of `passed_before` of `runs_before` against `passed_now` of
    `runs_now`, both ways. With no runs on a side nothing can be told: both are 1."""
    for passed, runs in ((passed_before, runs_before), (passed_now, runs_now)):
        if runs < 0 or not 0 <= passed <= runs:
            raise ValueError(f"{passed} passes of {runs} runs")
    a, n1 = passed_before, runs_before
    n = runs_before + runs_now
    k = passed_before + passed_now
    low, high = max(0, n1 - (n - k)), min(n1, k)
    total = math.comb(n, n1)
    # The weights C(k, x) * C(n - k, n1 - x) from `low` up, each from the one before (the
    # division is exact): the shorter side of `a` is summed, the other is what is left.
    below = 0  # the weights of x < a
    at = 0  # the weight of x = a
    weight = math.comb(k, low) * math.comb(n - k, n1 - low)
    if a - low <= high - a:
        for x in range(low, a + 1):
            if x == a:
                at = weight
            else:
                below += weight
            weight = weight * (k - x) * (n1 - x) // ((x + 1) * (n - k - n1 + x + 1))
        above = total - below - at
    else:
        above = 0  # the weights of x > a
        weight = math.comb(k, high) * math.comb(n - k, n1 - high)
        for x in range(high, a - 1, -1):
            if x == a:
                at = weight
            else:
                above += weight
            if x > low:
                weight = weight * x * (n - k - n1 + x) // ((k - x + 1) * (n1 - x + 1))
        below = total - above - at
    return Tails(worse=Fraction(above + at, total), better=Fraction(below + at, total))


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """The Benjamini-Hochberg adjusted p-values (q-values), in the order given.

    With the m p-values sorted, p(1) <= ... <= p(m), the q-value of p(i) is
    min over j >= i of m * p(j) / j, at most 1. Rejecting every hypothesis whose q-value
    is at most alpha keeps the expected share of false discoveries among them at most
    alpha (for independent tests, as the cells of a suite are)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    smallest = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        smallest = min(smallest, p_values[i] * m / rank)
        adjusted[i] = smallest
    return adjusted
