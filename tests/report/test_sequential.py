"""Sequential cells in the reports: runs not needed are their own outcome in no verdict,
each cell says how many runs it sent of its max and why it stopped, in every format; the
runs of a sequential cell all fall in one shard, and `merge` keeps it so."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import yaml
from test_merge import merged, names, report_of, valid

from conftest import compile_dict, suite_errors
from specrunner.models import Outcome
from specrunner.plan_view import plan_json
from specrunner.report.console import console_summary
from specrunner.report.html import page_data, render_html
from specrunner.report.junit import render_junit
from specrunner.report.markdown import render_markdown
from specrunner.report.saved import merge_reports

SUITE: dict[str, Any] = {
    "version": 1,
    "name": "adaptive",
    "rooms": {"bot": {"source": "static", "url": "https://acme.daily.co/lab"}},
    "defaults": {"repeat": {"min": 3, "max": 20}, "expect": {"pass_rate": 0.6}},
    "scenarios": [
        {
            "id": 30,
            "name": "order",
            "matrix": {"locale": ["en", "es", "de", "fr", "it", "pt"]},
            "expect": {"pass_rate": 0.6, "confidence": 0.95},
        },
        {"id": 31, "name": "refund", "repeat": 4},
    ],
}


def decided(key_outcomes: dict[str, Outcome]) -> Any:
    return lambda key: key_outcomes.get(key, Outcome.PASSED)


def a_report() -> Any:
    """`order [locale=en]` passed 4 runs (16 not needed), `[locale=es]` failed 3 (17 not
    needed), the other locales all 20 (passed), refund all 4 (passed)."""
    plan = compile_dict(SUITE)
    outcomes: dict[str, Outcome] = {}
    for run in plan.runs:
        if run.cell == {"locale": "en"}:
            outcomes[run.key] = Outcome.PASSED if run.repeat <= 4 else Outcome.NOT_NEEDED
        elif run.cell == {"locale": "es"}:
            outcomes[run.key] = Outcome.FAILED if run.repeat <= 3 else Outcome.NOT_NEEDED
    return plan, report_of(plan, decided(outcomes))


def test_runs_not_needed_count_in_no_verdict_and_each_cell_says_why_it_stopped() -> None:
    _, report = a_report()
    valid(report)
    cells = {c["id"]: c for c in report["cells"]}
    en, es = cells["order [locale=en]"], cells["order [locale=es]"]
    assert (en["runs"], en["outcomes"]["not_needed"], en["pass_rate"], en["met"]) == (
        4,
        16,
        1.0,
        True,
    )
    assert en["repeat"] == {"min": 3, "max": 20}
    assert en["sequential"] == {
        "min": 3,
        "max": 20,
        "sent": 4,
        "stopped": "confidence",
        "reason": "pass rate above 0.6 at 95% confidence",
    }
    assert es["sequential"]["stopped"] == "confidence" and not es["met"]
    assert cells["order [locale=de]"]["sequential"]["stopped"] == "max"
    assert "sequential" not in cells["refund"] and "not_needed" not in cells["refund"]["outcomes"]
    verdict = report["verdict"]
    assert verdict["outcomes"]["not_needed"] == 33
    assert verdict["runs"] == 4 + 3 + 4 * 20 + 4
    assert verdict["pass_rate"] == (4 + 80 + 4) / verdict["runs"]
    assert report["plan"]["runs"] == 6 * 20 + 4


def test_every_view_says_what_a_sequential_cell_sent() -> None:
    _, report = a_report()
    console = "\n".join(console_summary(report))
    assert "91 runs: 88 passed, 3 failed; 33 not needed" in console
    assert "order [locale=en]: 4 of 20 runs sent: pass rate above 0.6 at 95% confidence" in console
    assert "not needed:" not in console  # runs not needed are not failing runs
    markdown = render_markdown(report)
    assert "3/3, 3 of 20 sent" not in markdown  # 0 of 3 passed
    assert "0/3, 3 of 20 sent" in markdown
    assert "33 not needed" in markdown
    html = render_html(report)
    assert "Not needed" in html
    data = page_data(report)
    (en,) = [c for c in data["cells"] if c["id"] == "order [locale=en]"]
    assert en["not_needed"] == 16
    assert en["sequential"] == "4 of 20 runs sent: pass rate above 0.6 at 95% confidence"
    junit = ET.fromstring(render_junit(report))
    suite = junit.find("testsuite")
    assert suite is not None
    skipped = [case for case in suite.iter("testcase") if case.find("skipped") is not None]
    assert [case.get("name") for case in skipped] == [
        "locale=en (runs not needed)",
        "locale=es (runs not needed)",
    ]
    assert suite.get("skipped") == "2" and suite.get("tests") == str(7 + 2)
    message = skipped[0].find("skipped").get("message")  # type: ignore[union-attr]
    assert message == "16 runs not needed; 4 of 20 runs sent: pass rate above 0.6 at 95% confidence"
    (es,) = [c for c in suite.iter("testcase") if c.get("name") == "locale=es"]
    failure = es.find("failure")
    assert failure is not None and "not_needed" not in (failure.text or "")


def test_an_interrupted_sequential_cell_is_unfinished() -> None:
    plan = compile_dict(SUITE)
    first = {r.key: Outcome.PASSED for r in plan.runs if r.repeat == 1}
    report = report_of(plan, lambda key: first.get(key, Outcome.NOT_RUN))
    cell = next(c for c in report["cells"] if c["id"] == "order [locale=en]")
    assert cell["sequential"]["stopped"] == "unfinished"
    assert cell["sequential"]["sent"] == 1 and not cell["met"]


def test_a_sequential_cells_runs_fall_in_one_shard_and_merge_whole() -> None:
    whole = compile_dict(SUITE)
    count = 3
    plans = [compile_dict(SUITE, shard=(i, count)) for i in range(1, count + 1)]
    assert sorted(r.key for p in plans for r in p.runs) == sorted(r.key for r in whole.runs)
    for cell in [{"locale": x} for x in ("en", "es", "de", "fr", "it", "pt")]:
        holding = [p for p in plans if any(r.cell == cell for r in p.runs)]
        assert len(holding) == 1, cell  # one shard sends all 20 and decides the cell
        assert sum(r.cell == cell for r in holding[0].runs) == 20
    refund = {i for i, p in enumerate(plans) for r in p.runs if r.scenario == "refund"}
    assert len(refund) > 1  # plain repeats still spread by key
    _, report = a_report()
    outcomes = {r["key"]: Outcome(r["outcome"]) for r in report["runs"]}
    reports = [report_of(p, lambda key: outcomes[key]) for p in plans]
    joined = merged(reports)
    valid(joined)
    assert joined["verdict"] == report["verdict"]
    assert [c["sequential"] for c in joined["cells"] if "sequential" in c] == [
        c["sequential"] for c in report["cells"] if "sequential" in c
    ]
    held = [r for r in reports if any(run["cell"] == {"locale": "en"} for run in r["runs"])]
    partial = merge_reports(
        [r for r in reports if r is not held[0]],
        [n for r, n in zip(reports, names(reports), strict=True) if r is not held[0]],
        allow_partial=True,
    )
    cell = next(c for c in partial["cells"] if c["id"] == "order [locale=en]")
    assert cell["outcomes"]["not_run"] == 20 and cell["sequential"]["stopped"] == "unfinished"


def test_the_suite_checks_of_sequential_scenarios() -> None:
    def errors(scenario: dict[str, Any], defaults: dict[str, Any] | None = None) -> list[str]:
        suite = {
            "version": 1,
            "name": "checks",
            "rooms": {"bot": {"source": "static", "url": "https://acme.daily.co/lab"}},
            "defaults": defaults or {},
            "scenarios": [{"id": 30, "name": "s", **scenario}],
        }
        return suite_errors(yaml.safe_dump(suite, sort_keys=False))

    assert errors({"repeat": {"min": 5, "max": 3}}) == [
        "suite.yaml:12:10: repeat: min 5 is more than max 3: a cell cannot send more runs "
        "than its most"
    ]
    assert errors({"repeat": 3, "expect": {"pass_rate": 0.9, "confidence": 0.9}}) == [
        "suite.yaml:14:17: confidence is for sequential cells, and scenario 's' sends every "
        "run: give its repeat as {min, max}"
    ]
    assert errors({"repeat": {"max": 3}, "expect": {"min_passes": 2, "confidence": 0.9}}) == [
        "suite.yaml:15:17: confidence is for a pass_rate: a min_passes rule is decided exactly"
    ]
    assert errors({"repeat": {"max": 3}, "expect": {"min_passes": 4}}) == [
        "suite.yaml:14:17: min_passes 4 is more than the 3 runs each cell of scenario 's' "
        "sends at most: the cell could never pass"
    ]
    # From the defaults, a confidence applies where it can, and nowhere else.
    plan = compile_dict(
        {**SUITE, "defaults": {"expect": {"confidence": 0.9}}, "scenarios": [{"id": 31}]}
    )
    assert plan.scenarios[0].expect.confidence is None


def test_the_plans_json_marks_the_runs_of_sequential_cells() -> None:
    runs = plan_json(compile_dict(SUITE))["runs"]
    assert runs[0]["sequential"] == {"min": 3, "max": 20}
    assert "sequential" not in next(r for r in runs if r["scenario"] == "refund")
