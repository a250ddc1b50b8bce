"""The reports the view tests use are real reports: valid, and judged as a run judges."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from report_factory import SCHEMA, cells_report, make_report, rejudged

from specrunner.report.build import cells_meta_of, judge
from specrunner.report.records import Report


def schema_errors(report: Report) -> list[str]:
    validator = Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(report)]


def test_the_sample_is_a_valid_report() -> None:
    assert schema_errors(cells_report()) == []


def test_the_sample_is_judged_as_a_run_would_judge_it() -> None:
    report = cells_report()
    cells, verdict = judge(report["runs"], cells_meta_of(report))
    assert cells == report["cells"]
    assert verdict == report["verdict"]


def test_the_sample_has_every_kind_of_cell() -> None:
    cells = cells_report()["cells"]
    kinds = {("met", c["met"], "flaky", c["flaky"]) for c in cells}
    assert kinds == {
        ("met", True, "flaky", False),
        ("met", True, "flaky", True),
        ("met", False, "flaky", True),
        ("met", False, "flaky", False),
    }
    outcomes = {o for c in cells for o, n in c["outcomes"].items() if n}
    assert outcomes == {"passed", "failed", "error", "unknown", "not_run"}
    assert any(c["label"] == "-" for c in cells)
    assert any(c["scenario_id"] == "***" for c in cells)
    assert any("<img" in c["scenario"] for c in cells)
    assert any("]]>" in (r["error"] or "") for r in cells_report()["runs"])


@pytest.mark.parametrize(
    "report",
    [
        make_report([["passed", "failed", "error", "unknown", "not_run"], ["passed"]]),
        make_report([], error=None, duration=None),
        rejudged(cells_report(), ["order-pizza [locale=en-US]"]),
    ],
    ids=["made", "empty", "rejudged"],
)
def test_made_reports_are_valid(report: Report) -> None:
    assert schema_errors(report) == []
