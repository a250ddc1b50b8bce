"""Comparisons for the views' tests: two reports of one suite with every kind of change,
and names hostile to every format."""

from __future__ import annotations

from report_factory import make_report

from specrunner.report.comparison import compare_reports
from specrunner.report.records import Comparison, OutcomeName, Report

HOSTILE = "<img src=x onerror=alert(1)> | `tick` @here *bold* \u202eevil"
HOSTILE_LABEL = "q=<script>alert(1)</script> | ~x~"


def runs(passed: int, failed: int = 0, unknown: int = 0) -> list[OutcomeName]:
    return ["passed"] * passed + ["failed"] * failed + ["unknown"] * unknown


def reports() -> tuple[Report, Report]:
    """The baseline and the new report: a regression (under a hostile name), a verdict
    that flipped within chance, an improvement, an unchanged cell, a cell not compared,
    and one cell each only in the baseline and only in the new report."""
    base = make_report([runs(10), runs(10), runs(0, 10), runs(6, 4), runs(3), runs(4), runs(5)])
    new = make_report(
        [runs(0, 10), runs(9, 1), runs(10), runs(6, 4), runs(0, 0, 3), runs(4), runs(5)]
    )
    for report in (base, new):
        report["cells"][0]["scenario"] = HOSTILE
        report["cells"][0]["label"] = HOSTILE_LABEL
    base["cells"][6]["cell"] = {"n": "gone"}
    base["cells"][6]["label"] = "n=gone"
    new["cells"][6]["cell"] = {"n": "fresh"}
    new["cells"][6]["label"] = "n=fresh"
    new["git"]["commit"] = "0123456789abcdef0123456789abcdef01234567"
    return base, new


def comparison() -> Comparison:
    base, new = reports()
    return compare_reports(base, new, base_file="baseline.json", new_file="report.json")
