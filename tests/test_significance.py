"""Fisher's exact test and the Benjamini-Hochberg adjustment, against values worked out by
hand from their formulas (and, for Fisher, checked against an independent sum in log
space over many tables)."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specrunner.significance import benjamini_hochberg, fisher_tails


def hypergeometric(x: int, n1: int, k: int, n: int) -> float:
    """P(X = x) from the formula in log space: an independent way to the same number."""
    log = (
        math.lgamma(k + 1)
        - math.lgamma(x + 1)
        - math.lgamma(k - x + 1)
        + math.lgamma(n - k + 1)
        - math.lgamma(n1 - x + 1)
        - math.lgamma(n - k - n1 + x + 1)
        - (math.lgamma(n + 1) - math.lgamma(n1 + 1) - math.lgamma(n - n1 + 1))
    )
    return math.exp(log)


# ---- Fisher, known values


def test_ten_of_ten_then_none_of_ten() -> None:
    # Only one table is as extreme: every pass before. P = 1 / C(20, 10) = 1 / 184756.
    tails = fisher_tails(10, 10, 0, 10)
    assert tails.worse == Fraction(1, 184756)
    assert float(tails.worse) == pytest.approx(5.4125e-6, rel=1e-4)
    assert tails.better == 1


def test_ten_of_ten_then_nine_of_ten_is_a_coin_toss() -> None:
    # k = 19 passes of 20: the one failure fell now with chance C(19,10) / C(20,10) = 1/2.
    tails = fisher_tails(10, 10, 9, 10)
    assert tails.worse == Fraction(92378, 184756) == Fraction(1, 2)
    assert tails.better == 1


def test_the_lady_tasting_tea() -> None:
    # Fisher's own example, the table [[3, 1], [1, 3]]: one-sided P = (C(4,3) C(4,1) +
    # C(4,4) C(4,0)) / C(8,4) = 17/70 (scipy.stats.fisher_exact(..., alternative="greater")
    # gives 0.242857...).
    tails = fisher_tails(3, 4, 1, 4)
    assert tails.worse == Fraction(17, 70)
    assert tails.better == Fraction(1 + 16 + 36 + 16, 70)  # x = 0, 1, 2, 3


def test_a_table_summed_by_hand() -> None:
    # [[6, 2], [1, 4]]: n = 13, n1 = 8, k = 7; P(X >= 6) = (C(7,6) C(6,2) + C(7,7) C(6,1))
    # / C(13, 8) = (105 + 6) / 1287.
    tails = fisher_tails(6, 8, 1, 5)
    assert tails.worse == Fraction(111, 1287)
    # P(X <= 6) = 1 - P(X = 7) = 1 - 6/1287.
    assert tails.better == Fraction(1281, 1287)


def test_both_sides_the_same_is_no_evidence_either_way() -> None:
    tails = fisher_tails(5, 10, 5, 10)
    assert tails.worse > Fraction(1, 2) and tails.better > Fraction(1, 2)
    assert tails.worse == tails.better


def test_an_improvement_is_the_mirror_of_a_regression() -> None:
    assert fisher_tails(0, 10, 10, 10).better == Fraction(1, 184756)
    assert fisher_tails(2, 7, 5, 9) == type(fisher_tails(2, 7, 5, 9))(
        worse=fisher_tails(5, 9, 2, 7).better, better=fisher_tails(5, 9, 2, 7).worse
    )


@pytest.mark.parametrize(("before", "now"), [((0, 0), (3, 5)), ((3, 5), (0, 0)), ((0, 0), (0, 0))])
def test_no_runs_on_a_side_tells_nothing(before: tuple[int, int], now: tuple[int, int]) -> None:
    tails = fisher_tails(*before, *now)
    assert tails.worse == 1 and tails.better == 1


@pytest.mark.parametrize("counts", [(-1, 3, 0, 3), (4, 3, 0, 3), (0, 3, 2, 1), (0, -1, 0, 0)])
def test_impossible_counts_are_refused(counts: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="passes of"):
        fisher_tails(*counts)


def test_large_cells_are_exact_and_quick() -> None:
    # 1,000 runs a side, summed from the shorter end: the two tails overlap in P(X = a).
    tails = fisher_tails(900, 1000, 860, 1000)
    n, n1, k, a = 2000, 1000, 1760, 900
    assert tails.worse + tails.better == 1 + Fraction(
        math.comb(k, a) * math.comb(n - k, n1 - a), math.comb(n, n1)
    )
    assert 0 < tails.worse < Fraction(1, 100)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 30).flatmap(lambda n1: st.tuples(st.integers(0, n1), st.just(n1))),
    st.integers(0, 30).flatmap(lambda n2: st.tuples(st.integers(0, n2), st.just(n2))),
)
def test_the_tails_are_the_sums_of_the_formula(
    before: tuple[int, int], now: tuple[int, int]
) -> None:
    (a, n1), (c, n2) = before, now
    n, k = n1 + n2, a + c
    support = range(max(0, n1 - (n - k)), min(n1, k) + 1)
    tails = fisher_tails(a, n1, c, n2)
    assert float(tails.worse) == pytest.approx(
        sum(hypergeometric(x, n1, k, n) for x in support if x >= a), rel=1e-9, abs=1e-15
    )
    assert float(tails.better) == pytest.approx(
        sum(hypergeometric(x, n1, k, n) for x in support if x <= a), rel=1e-9, abs=1e-15
    )


# ---- Benjamini-Hochberg


def test_bh_adjusts_and_keeps_the_order_given() -> None:
    # Sorted: 0.005, 0.01, 0.03, 0.04 -> 4/1 * 0.005 = 0.02, 4/2 * 0.01 = 0.02,
    # 4/3 * 0.03 = 0.04, 4/4 * 0.04 = 0.04 (as R's p.adjust(method = "BH") gives).
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_bh_takes_the_smallest_of_the_later_ones() -> None:
    # 5 * 0.01 / 1 = 0.05 but 5 * 0.05 / 5 = 0.05 ... every q is the 0.05 of the largest.
    assert benjamini_hochberg([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05] * 5)
    assert benjamini_hochberg([0.9, 0.8]) == pytest.approx([0.9, 0.9])


def test_bh_never_goes_above_one() -> None:
    assert benjamini_hochberg([1.0, 1.0, 0.7]) == [1.0, 1.0, 1.0]
    assert benjamini_hochberg([]) == []
    assert benjamini_hochberg([0.03]) == [0.03]


def test_bh_on_the_papers_example() -> None:
    # Benjamini and Hochberg (1995), section 4.1: 15 p-values from a clinical trial; at
    # a false discovery rate of 0.05 the procedure rejects the 4 smallest.
    p = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240]
    p += [0.4262, 0.5719, 0.6528, 0.7590, 1.000]
    q = benjamini_hochberg(p)
    assert sum(value <= 0.05 for value in q) == 4
    assert q[3] == pytest.approx(0.0095 * 15 / 4)
