"""The HTML report: a self-contained page that loads nothing, escapes everything, and (in
headless Chromium) filters, sorts, expands and stays light with 10,000 runs.

The browser tests need /usr/bin/chromium; without it they are skipped, except on CI
(CI=true), where a missing browser fails them.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pagekit import PageRun, chromium_or_skip, run_page
from report_factory import cells_report, make_report
from reportkit import (
    EVIL_ERROR,
    EVIL_NAME,
    EVIL_TAG,
    EVIL_TRANSCRIPT,
    EVIL_URL,
    hostile,
    rejudged,
    sample,
    synthetic,
)

from specrunner.report.html import interval, percent, render_html, rule_text, seconds, timestamp
from specrunner.report.records import OutcomeName, Report
from specrunner.schemas import load_schema

DATA = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.DOTALL)
FACT = re.compile(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>")
# Markup that would make a browser fetch something.
LOADS = (
    re.compile(r"""\bsrc\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE),
    re.compile(r"""<link\b[^>]*\bhref\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE),
    re.compile(
        r"""<(?:script|img|iframe|frame|video|audio|source|embed|object)\b[^>]*\bsrc""", re.I
    ),
    re.compile(r"""@import""", re.IGNORECASE),
    re.compile(r"""url\(\s*["']?\s*(?:https?:)?//""", re.IGNORECASE),
)


def embedded(page: str) -> Any:
    found = DATA.search(page)
    assert found, "no embedded report data"
    return json.loads(found.group(1))


def facts(page: str) -> dict[str, str]:
    return {html.unescape(k): html.unescape(v) for k, v in FACT.findall(page)}


# ---- the markup


@pytest.mark.parametrize(
    "make", [sample, hostile, cells_report], ids=["sample", "hostile", "cells"]
)
def test_the_page_loads_nothing_from_anywhere(make: Any) -> None:
    page = render_html(make())
    for pattern in LOADS:
        assert not pattern.search(page), pattern.pattern
    # Outside its data (where Cekura's recording links are), the page names no URL at all.
    assert not re.search(r"https?://", DATA.sub("", page))
    assert page.count("<script") == 2  # the data and the page's own script
    assert page.count("<style") == 1


def test_a_content_security_policy_allows_only_the_pages_own_script_and_style() -> None:
    page = render_html(sample())
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert found
    policy = html.unescape(found.group(1))
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    script = page[page.rindex("<script>") + len("<script>") : page.rindex("</script>")]
    style = page[page.index("<style>") + len("<style>") : page.index("</style>")]
    for name, text in (("script-src", script), ("style-src", style)):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert directives[name] == f"'sha256-{digest}'"


def test_the_summary_shows_the_verdict_counts_and_where_the_run_came_from() -> None:
    report = sample()
    report["git"]["commit"] = "0123456789abcdef0123456789abcdef01234567"
    page = render_html(report)
    assert '<span class="verdict verdict-passed" id="verdict">PASSED</span>' in page
    assert '<h1 id="suite-name">checkout-matrix</h1>' in page
    assert "<title>PASSED · checkout-matrix · specrunner report</title>" in page
    shown = facts(page)
    assert shown["Environment"] == "staging"
    assert shown["Cells met"] == "5 of 5"
    assert shown["Flaky cells"] == "2"
    assert shown["Runs"] == "18"
    assert shown["Pass rate"] == "88.9%"
    assert shown["Duration, median / p95"] == "4.0 s / 5.0 s"
    assert shown["Finished"] == "2026-11-21 06:46:02 UTC"
    assert shown["Git commit"] == "0123456789ab"
    assert 'title="0123456789abcdef0123456789abcdef01234567"' in page
    chips = re.findall(r'<li class="chip outcome-(\w+)[^"]*"><b>(\d+)</b>', page)
    assert chips == [
        ("passed", "16"),
        ("failed", "2"),
        ("error", "0"),
        ("unknown", "0"),
        ("not_run", "0"),
    ]
    assert "Average Latency (ms)" in page


def test_a_failing_suite_says_failed() -> None:
    report = synthetic(200)
    assert not report["verdict"]["passed"]
    page = render_html(report)
    assert '<span class="verdict verdict-failed" id="verdict">FAILED</span>' in page
    assert page.count('data-sort="not_run"') == 0


def test_hostile_text_appears_only_escaped() -> None:
    page = render_html(hostile())
    for raw in (EVIL_NAME, EVIL_TRANSCRIPT, EVIL_TAG, EVIL_ERROR, "</script><script>alert(1)"):
        assert raw not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the suite's name, in the markup
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page  # the scenario, in the data
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page
    assert '<option value="&#34;&gt;&lt;svg onload=alert(1)&gt;">' in page
    assert "<img" not in page and "<b " not in page
    # The only SVG is the report's own charts.
    for svg in re.findall(r"<svg\b[^>]*>", page):
        assert re.fullmatch(r'<svg class="(?:chart|sparkline)" viewBox="[\d ]+" [^<>]*>', svg)


def test_the_embedded_data_is_the_reports_runs_and_each_cells_own() -> None:
    report = hostile()
    data = embedded(render_html(report))
    assert data["runs"] == report["runs"]
    for shown, cell in zip(data["cells"], report["cells"], strict=True):
        assert [data["runs"][i]["key"] for i in shown["run_indices"]] == cell["keys"]
        assert shown["scenario"] == cell["scenario"]
    first = data["cells"][0]
    assert first["scenario"] == EVIL_NAME
    assert EVIL_TAG in first["tags"]
    assert (first["pass_rate_text"], first["wilson_text"], first["expect"]) == (
        "100%",
        "43.9–100%",
        "pass rate ≥ 66%",
    )


def test_ten_thousand_runs_are_data_not_markup() -> None:
    report = synthetic(10_000)
    page = render_html(report)
    assert len(embedded(page)["runs"]) == 10_000
    markup = DATA.sub("", page)
    assert len(markup) < 60_000
    assert "<article" not in markup and '<tr class="cell' not in markup


def test_a_not_run_column_only_when_a_cell_has_runs_not_run() -> None:
    report = sample()
    assert 'data-sort="not_run"' not in render_html(report)
    meta: list[Any] = [
        {k: c[k] for k in ("scenario", "scenario_id", "cell", "label", "tags", "expect")}
        for c in report["cells"]
    ]
    report["runs"][0]["outcome"] = "not_run"
    assert 'data-sort="not_run"' in render_html(rejudged(report, meta))


def test_an_empty_report_renders() -> None:
    report = synthetic(0)
    page = render_html(report)
    assert "This report has no cells." in page
    assert facts(page)["Pass rate"] == "—"
    assert embedded(page) == {"cells": [], "runs": []}


def test_the_helper_reports_match_the_schema() -> None:
    validator = Draft202012Validator(load_schema("report"))
    for report in (sample(), hostile(), synthetic(45, per_cell=4)):
        assert list(validator.iter_errors(report)) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (1.0, "100%"), (0.0, "0%"), (0.6666, "66.7%"), (0.125, "12.5%")],
)
def test_percent(value: float | None, text: str) -> None:
    assert percent(value) == text


def test_the_other_formats() -> None:
    assert interval([0.4385, 1.0]) == "43.9–100%"
    assert interval(None) == ""
    assert (seconds(None), seconds(4), seconds(59.94), seconds(125)) == (
        "—",
        "4.0 s",
        "59.9 s",
        "2 min 5 s",
    )
    assert rule_text({"pass_rate": 0.66}) == "pass rate ≥ 66%"
    assert rule_text({"min_passes": 1}) == "≥ 1 pass"
    assert rule_text({"min_passes": 4}) == "≥ 4 passes"
    assert timestamp("2026-11-21T06:46:02Z") == "2026-11-21 06:46:02 UTC"
    assert timestamp("yesterday") == "yesterday"
    assert timestamp(None) == "—"


# ---- in headless Chromium


@pytest.fixture(scope="module")
def chromium() -> Path:
    return chromium_or_skip()


def opened(report: Report, steps: str, tmp_path: Path, **options: Any) -> PageRun:
    """`steps` run in the loaded page; the page must have loaded cleanly."""
    run = run_page(render_html(report), steps, tmp_path, **options)
    assert run.errors == []
    assert run.violations == []
    assert run.resources == []
    assert run.xss is None
    assert run.js_ran
    return run


SAMPLE_ROWS = [
    "order-by-locale | locale=en-US persona=polite",
    "order-by-locale | locale=es-ES persona=confused",
    "refund-request | payment=card",
    "refund-request | payment=voucher",
    "large-family-order | -",
]


def test_the_sample_loads_with_every_cell_and_no_errors(chromium: Path, tmp_path: Path) -> None:
    run = opened(
        sample(),
        """return {rows: h.rows(), count: document.getElementById("shown-count").textContent,
                   more: h.visible(document.getElementById("more-cells")),
                   runs: document.querySelectorAll(".run").length};""",
        tmp_path,
    )
    assert run.result == {"rows": SAMPLE_ROWS, "count": "5 cells", "more": False, "runs": 0}


def test_filters_by_outcome_tag_and_text(chromium: Path, tmp_path: Path) -> None:
    run = opened(
        sample(),
        """
        var seen = {};
        h.select("filter-outcome", "flaky"); seen.flaky = h.rows();
        h.select("filter-outcome", "failing"); seen.failing = h.rows();
        seen.none = h.visible(document.getElementById("no-match"));
        h.select("filter-outcome", ""); h.select("filter-tag", "billing"); seen.billing = h.rows();
        h.type("filter-text", "VOUCHER"); seen.voucher = h.rows();
        seen.count = document.getElementById("shown-count").textContent;
        h.select("filter-tag", ""); h.type("filter-text", "es-ES confused"); seen.words = h.rows();
        h.type("filter-text", "d4dc5a40ae481155"); seen.key = h.rows();
        h.type("filter-text", ""); seen.all = h.rows().length;
        return seen;
        """,
        tmp_path,
    )
    assert run.result == {
        "flaky": [SAMPLE_ROWS[1], SAMPLE_ROWS[2]],
        "failing": [],
        "none": True,
        "billing": [SAMPLE_ROWS[2], SAMPLE_ROWS[3]],
        "voucher": [SAMPLE_ROWS[3]],
        "count": "1 of 5 cells",
        "words": [SAMPLE_ROWS[1]],
        "key": [SAMPLE_ROWS[4]],
        "all": 5,
    }


def test_every_kind_of_cell_loads_and_filters(chromium: Path, tmp_path: Path) -> None:
    # The views' shared sample: failing, flaky, error, unknown and not-run cells, and a
    # scenario, label and tag hostile to every format.
    run = opened(
        cells_report(),
        """
        var seen = {columns: Array.prototype.map.call(
          document.querySelectorAll("thead button"), function (b) { return b.textContent; })};
        seen.all = h.rows();
        h.select("filter-outcome", "failing"); seen.failing = h.rows().length;
        h.select("filter-outcome", "error"); seen.error = h.rows();
        h.select("filter-outcome", "not_run"); seen.not_run = h.rows();
        h.select("filter-outcome", ""); h.select("filter-tag", "<b>tag</b>"); seen.tag = h.rows();
        seen.tag_cell = document.querySelector("#cell-5 .tag").textContent;
        return seen;
        """,
        tmp_path,
    )
    evil = "<img src=x onerror=alert(1)> | note=a|b `code` @octocat"
    assert run.result == {
        "columns": ["Scenario", "Cell", "Tags", "Runs", "Passed", "Failed", "Error", "Unknown",
                    "Not run", "Pass rate", "Expect", "Met", "Flaky"],
        "all": ["order-pizza | locale=en-US", "order-pizza | locale=es-ES",
                "refund-request | payment=card", "refund-request | payment=voucher",
                "large-family-order | -", evil],
        "failing": 4,
        "error": ["refund-request | payment=voucher", evil],
        "not_run": ["large-family-order | -"],
        "tag": [evil],
        "tag_cell": "<b>tag</b>",
    }  # fmt: skip


def test_clicking_a_header_sorts_and_clicking_again_reverses(
    chromium: Path, tmp_path: Path
) -> None:
    run = opened(
        sample(),
        """
        var seen = {}, sort = function (key) {
          h.click('thead button[data-sort="' + key + '"]');
          return h.rows().map(function (r) { return r.split(" | ")[1]; });
        };
        h.click("#cell-3 button.expand");
        seen.runs = sort("runs");
        seen.aria = document.querySelector('button[data-sort="runs"]').parentNode
          .getAttribute("aria-sort");
        seen.runs_again = sort("runs");
        seen.label = sort("label");
        seen.detail_follows = document.getElementById("cell-3").nextElementSibling.id;
        seen.pass_rate = sort("pass_rate");
        return seen;
        """,
        tmp_path,
    )
    assert run.result == {
        # Counts start with the largest; ties keep the report's order.
        "runs": ["payment=card", "payment=voucher", "locale=en-US persona=polite",
                 "locale=es-ES persona=confused", "-"],
        "aria": "descending",
        "runs_again": ["-", "locale=en-US persona=polite", "locale=es-ES persona=confused",
                       "payment=card", "payment=voucher"],
        "label": ["-", "locale=en-US persona=polite", "locale=es-ES persona=confused",
                  "payment=card", "payment=voucher"],
        "detail_follows": "runs-3",
        "pass_rate": ["locale=en-US persona=polite", "payment=voucher", "-", "payment=card",
                      "locale=es-ES persona=confused"],
    }  # fmt: skip


def test_expanding_a_cell_shows_its_runs(chromium: Path, tmp_path: Path) -> None:
    report = sample()
    run = opened(
        report,
        """
        h.click("#cell-2 button.expand");
        var detail = document.getElementById("runs-2"), cards = detail.querySelectorAll(".run");
        var failed = detail.querySelector(".run-failed"), link = detail.querySelector("a");
        var seen = {
          open: h.visible(detail),
          expanded: document.querySelector("#cell-2 button.expand").getAttribute("aria-expanded"),
          keys: Array.prototype.map.call(cards, function (c) {
            return c.getAttribute("data-key");
          }),
          failed: failed.getAttribute("data-key"),
          metrics: failed.querySelectorAll(".metrics tbody tr").length,
          transcript: failed.querySelector(".transcript pre").textContent,
          payload: JSON.parse(failed.querySelector(".payload pre").textContent),
          fields: failed.querySelector(".fields").innerText,
          link: [link.getAttribute("href"), link.getAttribute("rel"), link.getAttribute("target")],
          expected: failed.querySelector(".expected").innerText
        };
        document.getElementById("cell-2").querySelector("td.label").click();
        seen.closed = document.getElementById("runs-2") === null;
        return seen;
        """,
        tmp_path,
    )
    cell = report["cells"][2]
    runs = {r["key"]: r for r in report["runs"]}
    failed: Any = runs[run.result["failed"]]
    assert failed["outcome"] == "failed"
    assert run.result["open"] is True
    assert run.result["expanded"] == "true"
    assert run.result["keys"] == cell["keys"]
    assert run.result["metrics"] == len(failed["metrics"])
    assert run.result["transcript"] == failed["transcript"]
    assert run.result["payload"] == failed["publish_data_message"]
    for text in (failed["status"], str(failed["run_id"]), str(failed["result_id"]), failed["room"]):
        assert text in run.result["fields"]
    first = runs[cell["keys"][0]]
    assert run.result["link"] == [first["recording_url"], "noopener noreferrer", "_blank"]
    assert failed["expected_outcome"]["explanation"][0] in run.result["expected"]
    assert run.result["closed"] is True


def test_hostile_text_shows_as_text_and_runs_nothing(chromium: Path, tmp_path: Path) -> None:
    # Without the page's CSP: the page must be safe by how it builds the DOM, not only by policy.
    run = opened(
        hostile(),
        """
        h.select("filter-tag", document.getElementById("filter-tag").options[1].value);
        var seen = {rows: h.rows()};
        h.click("#cell-0 button.expand");
        var card = document.querySelector("#runs-0 .run");
        seen.title = document.title;
        seen.name = document.getElementById("suite-name").textContent;
        seen.transcript = card.querySelector(".transcript pre").textContent;
        seen.error = card.querySelector(".run-error").textContent;
        seen.links = card.querySelectorAll("a").length;
        seen.tags = Array.prototype.map.call(document.querySelectorAll("#cell-0 .tag"),
                                            function (t) { return t.textContent; });
        seen.fields = card.querySelector(".fields").textContent;
        seen.injected = document.querySelectorAll(
          "img, svg:not(.chart):not(.sparkline), [onerror], [onload], [onmouseover]")
          .length;
        seen.scripts = document.scripts.length;
        return seen;
        """,
        tmp_path,
        keep_csp=False,
    )
    fields = run.result.pop("fields")
    assert EVIL_URL in fields  # shown as text, not linked
    assert run.result == {
        "rows": [
            f"{EVIL_NAME} | locale=en-US persona=polite",
            f"{EVIL_NAME} | locale=es-ES persona=confused",
        ],
        "title": f"PASSED · {EVIL_NAME} · specrunner report",
        "name": EVIL_NAME,
        "transcript": EVIL_TRANSCRIPT,
        "error": f"Error: {EVIL_ERROR}",
        "links": 0,
        "tags": ["orders", "i18n", EVIL_TAG],
        "injected": 0,
        "scripts": 3,  # the harness, the data and the page's own
    }


def test_ten_thousand_runs_load_light_and_page_through(chromium: Path, tmp_path: Path) -> None:
    run = opened(
        synthetic(10_000, per_cell=1),
        """
        var seen = {rows: h.rows().length, nodes: document.getElementsByTagName("*").length};
        h.click("#more-cells"); seen.more = h.rows().length;
        h.select("filter-outcome", "passing"); seen.passing = h.rows().length;
        seen.count = document.getElementById("shown-count").textContent;
        h.select("filter-outcome", ""); h.type("filter-text", "scenario-999");
        seen.found = h.rows().length;
        return seen;
        """,
        tmp_path,
    )
    assert run.result["rows"] == 200
    assert run.result["nodes"] < 5_000
    assert run.result["more"] == 400
    assert run.result["passing"] == 200
    assert re.fullmatch(r"[\d,]+ of 10,000 cells \(first 200 shown\)", run.result["count"])
    assert run.result["found"] == 10


def test_a_cell_with_many_runs_shows_them_a_page_at_a_time(chromium: Path, tmp_path: Path) -> None:
    run = opened(
        synthetic(60, per_cell=60),
        """
        h.click("#cell-0 button.expand");
        var count = function () { return document.querySelectorAll("#runs-0 .run").length; };
        var seen = [count()];
        h.click("#runs-0 button.more"); seen.push(count());
        h.click("#runs-0 button.more"); seen.push(count());
        seen.push(h.visible(document.querySelector("#runs-0 button.more")));
        return seen;
        """,
        tmp_path,
    )
    assert run.result == [25, 50, 60, False]


def test_on_a_tablet_only_the_table_scrolls_sideways(chromium: Path, tmp_path: Path) -> None:
    # Wider than a phone (640 px) but narrower than the table: it scrolls in its frame.
    run = opened(
        sample(),
        """
        h.click("#cell-2 button.expand");
        var wrap = document.querySelector(".table-wrap"), runs = document.querySelector(".runs");
        return {page: document.documentElement.scrollWidth <= window.innerWidth,
                table: wrap.scrollWidth > wrap.clientWidth,
                runs: runs.getBoundingClientRect().right <= window.innerWidth,
                header: h.visible(document.querySelector("#cells thead")),
                sort: document.getElementById("sort-by").value,
                where: h.visible(document.querySelector(".facts .where")),
                toggle: h.visible(document.getElementById("where-facts")),
                width: window.innerWidth};
        """,
        tmp_path,
        width=800,
        height=900,
    )
    assert run.result == {
        "page": True,
        "table": True,
        "runs": True,
        "header": True,
        "sort": "",
        "where": True,
        "toggle": False,
        "width": 800,
    }


# A phone: 400 CSS px wide, about as tall as a phone's browser shows. Headless Chromium's
# window is at least 500 px wide, so the page is zoomed to 125% (as a person would zoom it).
PHONE = {"width": 500, "height": 1070, "zoom": 1.25}

# What a phone shows on opening the page: whether anything is wider than the screen, and
# where the first failing cell's card is.
PHONE_VIEW = """
var width = window.innerWidth, height = window.innerHeight;
var outside = Array.prototype.filter.call(document.querySelectorAll("body *"), function (node) {
  var box = node.getBoundingClientRect();
  return box.width > 0 && (box.left < -0.5 || box.right > width + 0.5);
}).map(function (node) { return node.tagName.toLowerCase() + "." + node.className; });
var first = document.querySelector("#cells tr.not-met");
var box = first && first.getBoundingClientRect();
var badge = first && first.querySelector(".col-met").getBoundingClientRect();
return {
  width: width,
  tall: height >= 700,
  scrolls: document.documentElement.scrollWidth > width,
  outside: outside,
  cards: getComputedStyle(document.querySelector("#cells tr.cell")).display,
  header: h.visible(document.querySelector("#cells thead")),
  sort: document.getElementById("sort-by").value,
  first: first && first.querySelector(".scenario").textContent + " | " +
    first.querySelector(".label").textContent,
  in_view: !!first && box.top >= 0 && badge.bottom <= height,
  whole_card: !!first && box.bottom <= height,
  rows: h.rows()
};
"""


def phone_report() -> Report:
    """Forty cells, the first one failing the 31st, with a scenario name, a label and
    tags that are long words: none may push the page wider than the phone."""
    outcomes: list[list[OutcomeName]] = [["passed"] * 3 for _ in range(40)]
    outcomes[30] = ["passed", "failed", "error"]
    report = make_report(outcomes)
    cell = report["cells"][5]
    cell["scenario"] = "checkout-" + "x" * 70
    cell["label"] = "address=" + "Kurfürstendamm" * 6
    cell["tags"] = ["a-very-long-tag-name-without-spaces-" * 2, "second", "third"]
    return report


@pytest.mark.parametrize("make", [phone_report, cells_report], ids=["long", "cells"])
def test_on_a_phone_the_cells_are_cards_failing_first_and_in_view(
    make: Any, chromium: Path, tmp_path: Path
) -> None:
    report = make()
    first = next(c for c in report["cells"] if not c["met"])
    run = opened(report, PHONE_VIEW, tmp_path, **PHONE)
    result = run.result
    assert result["width"] == 400 and result["tall"]
    assert result["scrolls"] is False
    assert result["outside"] == []
    assert result["cards"] == "flex" and result["header"] is False
    assert result["sort"] == "met:asc"
    assert result["first"] == f"{first['scenario']} | {first['label']}"
    assert result["in_view"] is True and result["whole_card"] is True
    failing = [f"{c['scenario']} | {c['label']}" for c in report["cells"] if not c["met"]]
    assert result["rows"][: len(failing)] == failing


def test_on_a_phone_a_cards_runs_and_the_folded_facts_open_in_place(
    chromium: Path, tmp_path: Path
) -> None:
    run = opened(
        cells_report(),
        """
        var seen = {folded: !h.visible(document.querySelector(".facts .where"))};
        h.click("#where-facts");
        seen.unfolded = h.visible(document.querySelector(".facts .where"));
        seen.expanded = document.getElementById("where-facts").getAttribute("aria-expanded");
        var card = document.querySelector("#cells tr.not-met");
        card.querySelector("button.expand").click();
        var runs = document.getElementById("runs-" + card.getAttribute("data-i"));
        seen.runs = runs.querySelectorAll(".run").length;
        seen.below = runs.getBoundingClientRect().top >= card.getBoundingClientRect().bottom - 1;
        seen.fits = Array.prototype.every.call(runs.querySelectorAll("*"), function (node) {
          var box = node.getBoundingClientRect();
          return box.width === 0 || box.right <= window.innerWidth + 0.5;
        });
        seen.scrolls = document.documentElement.scrollWidth > window.innerWidth;
        h.select("sort-by", "");
        seen.report_order = h.rows().length === 6 && document.querySelector(
          "#cells tr.cell").id === "cell-0";
        return seen;
        """,
        tmp_path,
        **PHONE,
    )
    assert run.result == {
        "folded": True,
        "unfolded": True,
        "expanded": "true",
        "runs": 3,
        "below": True,
        "fits": True,
        "scrolls": False,
        "report_order": True,
    }


def test_the_sort_menu_and_the_headers_sort_alike(chromium: Path, tmp_path: Path) -> None:
    run = opened(
        cells_report(),
        """
        var seen = {start: document.getElementById("sort-by").value, first: h.rows()[0]};
        h.select("sort-by", "met:asc"); seen.failing = h.rows();
        seen.aria = document.querySelector('button[data-sort="met"]').parentNode
          .getAttribute("aria-sort");
        h.click('thead button[data-sort="runs"]');
        seen.after_header = document.getElementById("sort-by").value;
        h.click('thead button[data-sort="scenario"]');
        seen.scenario = document.getElementById("sort-by").value;
        h.select("sort-by", ""); seen.report_order = h.rows();
        return seen;
        """,
        tmp_path,
    )
    report = cells_report()
    rows = [f"{c['scenario']} | {c['label']}" for c in report["cells"]]
    met = [c["met"] for c in report["cells"]]
    assert run.result == {
        "start": "",
        "first": rows[0],
        "failing": [r for r, m in zip(rows, met, strict=True) if not m]
        + [r for r, m in zip(rows, met, strict=True) if m],
        "aria": "ascending",
        "after_header": "runs:desc",
        "scenario": "scenario:asc",
        "report_order": rows,
    }


def test_printing_expands_every_shown_cell(chromium: Path, tmp_path: Path) -> None:
    run = opened(
        sample(),
        """
        h.select("filter-tag", "billing");
        window.dispatchEvent(new Event("beforeprint"));
        return {runs: document.querySelectorAll(".run").length,
                details: document.querySelector("details.metric-means").open};
        """,
        tmp_path,
    )
    assert run.result == {"runs": 10, "details": True}
