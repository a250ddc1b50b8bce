"""The HTML report's charts: inline SVG drawn by the writer, escaped, within the page's
Content Security Policy; absent where there is nothing to draw; and, in headless Chromium,
shown without errors and legible on a 400 px phone."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from pagekit import run_page
from report_factory import make_report
from test_html import PHONE, chromium  # noqa: F401  (the browser fixture, and the phone)

from specrunner.report.charts import (
    CellPoint,
    RunPoint,
    Trend,
    duration_bins,
    pass_rate_chart,
    sparkline,
)
from specrunner.report.html import render_html
from specrunner.report.records import OutcomeName, Report


def trend_of(report: Report, runs: int = 6) -> Trend:
    """A history of `runs` runs, the report's own last: the pass rate climbs, every other
    run fails, and the first cell is missing from the oldest run."""
    points = tuple(
        RunPoint(
            finished_at=f"2026-01-{i + 1:02d}T10:00:00Z",
            pass_rate=(i + 1) / runs,
            passed=i % 2 == 1,
            cells_passed=i,
            cells=runs,
            git_commit=f"{i:x}" * 40,
        )
        for i in range(runs)
    )
    cells = {
        cell["id"]: tuple(
            None if (i == 0 and n == 0) else CellPoint((i + 1) / runs, i % 2 == 1)
            for i in range(runs)
        )
        for n, cell in enumerate(report["cells"])
    }
    return Trend(points, cells)


def outcomes(cells: int) -> list[list[OutcomeName]]:
    return [["passed", "failed", "passed"] for _ in range(cells)]


def test_with_a_history_each_cell_has_a_sparkline_and_the_suite_its_chart() -> None:
    report = make_report(outcomes(3))
    page = render_html(report, trend_of(report))
    assert page.count('<span class="spark" data-cell=') == 3
    assert 'id="pass-rate-chart"' in page and 'id="durations-chart"' in page
    assert "Pass rate of the last 6 runs, oldest first: 16.7%, 33.3%, 50%" in page
    # Their numbers, in a table beside the chart (most recent first).
    assert '<td>2026-01-06 10:00</td><td class="mono">555555555555</td>' in page
    assert 'data-sort="trend"' in page


def test_without_a_history_only_the_durations_are_drawn() -> None:
    report = make_report(outcomes(2))
    for trend in (None, Trend(trend_of(report).runs[-1:])):
        page = render_html(report, trend)
        assert 'id="pass-rate-chart"' not in page and 'id="sparklines"' not in page
        assert 'data-sort="trend"' not in page and 'id="durations-chart"' in page


def test_without_durations_there_is_no_chart_at_all() -> None:
    page = render_html(make_report([["error"], ["not_run"]], duration=None))
    assert 'class="charts"' not in page


def test_a_cells_name_is_escaped_in_its_sparkline() -> None:
    evil = '"><script>alert(1)</script><svg onload="x'
    svg = sparkline(evil, [CellPoint(1.0, True), CellPoint(0.5, False)])
    assert svg is not None
    assert "<script" not in svg and 'onload="' not in svg
    assert "&lt;script&gt;" in svg and "&#34;&gt;" in svg


def test_the_charts_hold_only_shapes_and_text() -> None:
    report = make_report(outcomes(4))
    page = render_html(report, trend_of(report))
    svgs = re.findall(r"<svg\b.*?</svg>", page, flags=re.S)
    assert len(svgs) == 4 + 2
    tags = {tag for svg in svgs for tag in re.findall(r"<([a-z]+)", svg)}
    assert tags <= {"svg", "title", "line", "polyline", "circle", "rect", "text"}
    assert not any(re.search(r"\b(?:on\w+|style|href)=", svg) for svg in svgs)


def test_gaps_break_the_line_and_the_chart_says_its_numbers() -> None:
    svg = sparkline("c", [CellPoint(1.0, True), None, CellPoint(0.5, False), CellPoint(1, True)])
    assert svg is not None and svg.count("<polyline") == 1
    assert "oldest first: 100%, —, 50%, 100%; met its rule in 2 of 3" in svg
    assert sparkline("c", [None, CellPoint(1.0, True)]) is None
    chart = pass_rate_chart(
        [RunPoint("2026-01-01T00:00:00Z", None, False, 0, 1, None)] * 2
        + [RunPoint("2026-01-02T00:00:00Z", 1.0, True, 1, 1, None)]
    )
    assert "<polyline" not in chart and chart.count("<circle") == 1


@pytest.mark.parametrize(
    ("durations", "expected"),
    [
        ([], []),
        ([30.0], [(30.0, 31.0, 1)]),
        (
            [0.0, 10.0],
            [(0.0, 1.0, 1), *[(float(i), i + 1.0, 0) for i in range(1, 10)], (10.0, 11.0, 1)],
        ),
        ([12.0, 47.0, 95.0, 95.0], None),
    ],
)
def test_durations_fall_in_round_bins(
    durations: list[float], expected: list[tuple[float, float, int]] | None
) -> None:
    bins = duration_bins(durations)
    if expected is not None:
        assert [(b.low, b.high, b.count) for b in bins] == expected
    assert sum(b.count for b in bins) == len(durations)
    assert len(bins) <= 13
    for one, next_one in itertools.pairwise(bins):
        assert one.high == pytest.approx(next_one.low)
    if bins:
        assert bins[0].low <= min(durations) and bins[-1].high > max(durations)


# ---- in headless Chromium

CHARTS_SEEN = """
var width = window.innerWidth;
function box(node) {
  var r = node.getBoundingClientRect();
  return [r.left, r.right, r.width, r.height];
}
var charts = Array.prototype.map.call(document.querySelectorAll(".chart-grid svg"), function (svg) {
  var ticks = Array.prototype.map.call(svg.querySelectorAll("text"), function (t) {
    return t.getBoundingClientRect().height;
  });
  return {box: box(svg), smallest_text: Math.min.apply(null, ticks),
          label: svg.getAttribute("aria-label").slice(0, 30)};
});
var sparks = Array.prototype.map.call(document.querySelectorAll("#cells td.trend svg"), box);
return {width: width, charts: charts, sparks: sparks,
        rows: document.querySelectorAll("#cells tr.cell").length,
        scrolls: document.documentElement.scrollWidth > width};
"""


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_charts_render_and_stay_legible(chromium: Path, tmp_path: Path, size: str) -> None:  # noqa: F811
    report = make_report(outcomes(5))
    options = PHONE if size == "phone" else {"width": 1280, "height": 900}
    run = run_page(render_html(report, trend_of(report)), CHARTS_SEEN, tmp_path, **options)
    assert run.errors == [] and run.violations == [] and run.resources == []
    seen = run.result
    assert seen["rows"] == 5 and len(seen["sparks"]) == 5
    for _left, _right, width, height in seen["sparks"]:
        assert width >= 60 and height >= 15
    assert [c["label"] for c in seen["charts"]] == [
        "Pass rate of the last 6 runs, ",
        "Call durations, calls per rang",
    ]
    for chart in seen["charts"]:
        left, right, width, height = chart["box"]
        assert left >= 0 and right <= seen["width"] and width >= 250 and height >= 120
        # The axis labels are at least 10 px tall, whatever the chart is scaled to.
        assert chart["smallest_text"] >= 10
    if size == "phone":
        assert seen["width"] == 400 and seen["scrolls"] is False
