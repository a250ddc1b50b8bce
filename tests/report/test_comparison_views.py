"""A comparison on the terminal, in Markdown and as a page; and a report made with a
baseline, in each of its views. The page is opened in headless Chromium, at 400 px too
(skipped without Chromium, except under CI=true)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from comparekit import HOSTILE, HOSTILE_LABEL, comparison, reports
from pagekit import chromium_or_skip, run_page
from report_factory import check_golden

from specrunner.report.comparison_console import comparison_lines
from specrunner.report.comparison_html import render_comparison_html
from specrunner.report.comparison_markdown import MARKER, render_comparison_markdown
from specrunner.report.console import console_summary
from specrunner.report.html import page_data, render_html
from specrunner.report.markdown import render_markdown
from specrunner.report.records import Report
from specrunner.text import visible


def with_comparison() -> Report:
    new = reports()[1]
    new["comparison"] = comparison()
    return new


# ---- the terminal


def test_golden_console() -> None:
    check_golden("comparison.console.txt", "\n".join(comparison_lines(comparison())) + "\n")


def test_the_console_lists_the_changes_worst_first_and_counts_the_rest() -> None:
    lines = comparison_lines(comparison())
    table = lines[lines.index("") + 1 :]
    statuses = [line.split("  ")[0].strip() for line in table[1:7]]
    assert statuses == ["regressed", "improved", "unchanged", "not compared", "new", "removed"]
    assert "2 more cells unchanged" in lines
    assert not any("\x1b" in line or "\u202e" in line for line in lines)


def test_colour_only_when_asked_and_only_the_status_words() -> None:
    plain = comparison_lines(comparison())
    coloured = comparison_lines(comparison(), colour=True)
    assert [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in coloured] == plain
    painted = [line for line in coloured if "\x1b[" in line]
    assert [line.split("\x1b[0m")[0] for line in painted] == [
        "\x1b[1;31mregressed   ",
        "\x1b[1;32mimproved    ",
    ]


def test_a_runs_summary_ends_with_its_comparison() -> None:
    lines = console_summary(with_comparison())
    assert lines[0].startswith("FAILED  made: ")
    start = lines.index(next(line for line in lines if line.startswith("Against the baseline")))
    assert lines[start - 1] == ""
    assert lines[start].startswith(
        "Against the baseline baseline.json (finished 2026-01-02T03:04:05Z): 1 regressed"
    )


def test_a_run_that_met_every_rule_but_regressed_says_regressed() -> None:
    base, new = reports()
    for report in (base, new):
        report["cells"] = report["cells"][:1]
        report["cells"][0]["expect"] = {"min_passes": 0}
        report["verdict"]["passed"] = True
    new["cells"][0]["met"] = True
    from specrunner.report.comparison import compare_reports

    new["comparison"] = compare_reports(base, new, base_file="b.json", new_file=None)
    assert console_summary(new)[0].startswith("REGRESSED  made: ")
    assert render_markdown(new).startswith("## ❌ made regressed against the baseline\n")
    assert "<title>REGRESSED · made" in render_html(new)


# ---- Markdown


def test_golden_markdown() -> None:
    check_golden("comparison.md", render_comparison_markdown(comparison()))


def test_the_markdown_puts_regressions_first_and_folds_the_rest() -> None:
    text = render_comparison_markdown(comparison())
    assert text.startswith(MARKER + "\n## ❌ made: 1 cell regressed\n")
    regressed = text.index("**Regressed** (1)")
    improved = text.index("**Improved** (1)")
    folded = text.index("<details><summary>Other changes (4)")
    assert regressed < improved < folded
    # GitHub renders a table in <details> only after a blank line.
    assert "</summary>\n\n| Status |" in text


def test_the_markdown_escapes_what_the_reports_hold() -> None:
    text = render_comparison_markdown(comparison())
    row = next(line for line in text.splitlines() if "onerror" in line)
    assert "<img" not in row and "<script>" not in row
    assert "&lt;img src=x onerror=alert(1)&gt; \\| \\`tick\\` @\u200bhere \\*bold\\*" in row
    assert row.count(" | ") == 5  # six columns: no name split one
    assert "\u202e" not in text and "\\u202e" in text


def test_the_runs_markdown_has_the_comparison_under_its_counts() -> None:
    text = render_markdown(with_comparison())
    assert "### Against the baseline baseline.json\n" in text
    assert text.index("### Against the baseline") < text.index("| Verdict |")
    assert MARKER not in text


def test_no_regression_markdown() -> None:
    base, _ = reports()
    from specrunner.report.comparison import compare_reports

    same = compare_reports(base, base, base_file="a.json", new_file="a.json")
    text = render_comparison_markdown(same)
    assert "## ✅ made: no regression" in text
    assert "**Regressed**" not in text and "<details>" not in text


# ---- the page


DATA_OR_SCRIPT = re.compile(r"<script\b", re.IGNORECASE)


def test_the_page_escapes_everything_and_runs_no_script() -> None:
    page = render_comparison_html(comparison())
    assert not DATA_OR_SCRIPT.search(page)
    assert "<img src=x" not in page
    assert html.escape(HOSTILE_LABEL, quote=False) in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    policy = html.unescape(csp.group(1))
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in policy


def test_the_page_groups_the_cells() -> None:
    page = render_comparison_html(comparison())
    order = [page.index(f'id="group-{g}"') for g in ("regressed", "improved", "other", "unchanged")]
    assert order == sorted(order)
    assert '<details class="group" id="group-unchanged">' in page
    assert "REGRESSED" in page and "0123456789ab" in page


def test_the_runs_page_marks_each_cells_change() -> None:
    report = with_comparison()
    cells = page_data(report)["cells"]
    by_label = {c["label"]: c for c in cells}
    assert by_label[HOSTILE_LABEL]["change_status"] == "regressed"
    assert by_label[HOSTILE_LABEL]["change_text"] == "10/10 → 0/10 (-100 pts, q 2.7e-05)"
    assert by_label["n=1"]["change_note"].startswith("met its rule in the baseline")
    assert by_label["n=fresh"]["change_status"] == "new"
    page = render_html(report)
    assert 'data-sort="change"' in page and 'value="regressed"' in page
    assert "In the baseline, not in this run" in page
    plain = reports()[1]
    assert 'data-sort="change"' not in render_html(plain)
    assert all("change_status" not in cell for cell in page_data(plain)["cells"])


# ---- in headless Chromium


@pytest.fixture(scope="module")
def chromium() -> Path:
    return chromium_or_skip()


PHONE = {"width": 500, "height": 1070, "zoom": 1.25}
VIEW = """
var width = window.innerWidth;
var outside = Array.prototype.filter.call(document.querySelectorAll("body *"), function (node) {
  var box = node.getBoundingClientRect();
  return box.width > 0 && (box.left < -0.5 || box.right > width + 0.5);
}).map(function (node) { return node.tagName.toLowerCase() + "." + node.className; });
var first = document.querySelector("tbody tr");
return {
  width: width,
  scrolls: document.documentElement.scrollWidth > width,
  outside: outside,
  first: first.querySelector("th").textContent,
  first_status: first.getAttribute("data-status"),
  first_in_view: first.getBoundingClientRect().bottom <= window.innerHeight,
  cards: getComputedStyle(first).display,
  unchanged_open: document.getElementById("group-unchanged").open
};
"""


def opened(page: str, steps: str, tmp_path: Path, **options: Any) -> Any:
    run = run_page(page, steps, tmp_path, **options)
    assert run.errors == [] and run.violations == [] and run.resources == []
    assert run.xss is None
    return run.result


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_page_reads_on_a_desktop_and_at_400_px(
    chromium: Path, tmp_path: Path, screen: str
) -> None:
    options = PHONE if screen == "phone" else {}
    result = opened(render_comparison_html(comparison()), VIEW, tmp_path, **options)
    assert result["first"] == visible(HOSTILE)
    assert result["first_status"] == "regressed" and result["first_in_view"]
    assert result["scrolls"] is False and result["outside"] == []
    assert result["unchanged_open"] is False
    if screen == "phone":
        assert result["width"] == 400 and result["cards"] == "flex"


RUN_VIEW = """
h.select("filter-outcome", "regressed");
var regressed = h.rows();
h.select("filter-outcome", "changed");
var changed = h.rows().length;
h.select("filter-outcome", "");
var badge = document.querySelector("#cells tr.cell .col-change .badge");
var width = window.innerWidth;
var outside = Array.prototype.filter.call(document.querySelectorAll("body *"), function (node) {
  var box = node.getBoundingClientRect();
  return box.width > 0 && (box.left < -0.5 || box.right > width + 0.5);
}).length;
return {regressed: regressed, changed: changed, badge: badge && badge.textContent,
        verdict: document.getElementById("verdict").textContent, outside: outside,
        scrolls: document.documentElement.scrollWidth > width, width: width};
"""


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_runs_page_filters_its_regressions(chromium: Path, tmp_path: Path, screen: str) -> None:
    options = PHONE if screen == "phone" else {}
    result = opened(render_html(with_comparison()), RUN_VIEW, tmp_path, **options)
    assert result["regressed"] == [f"{visible(HOSTILE)} | {HOSTILE_LABEL}"]
    assert result["changed"] == 5  # regressed, improved, flipped, not compared, new
    assert result["verdict"] == "FAILED"
    assert result["scrolls"] is False
    if screen == "phone":  # a wider screen scrolls the table sideways in its frame
        assert result["width"] == 400 and result["outside"] == 0
    assert result["badge"] in {"regressed", "improved", "unchanged", "not compared", "new"}
