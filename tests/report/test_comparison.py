"""Two reports compared cell by cell: matching, counting, classifying, and the reports that
cannot be compared."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from report_factory import make_report

from specrunner.errors import UsageError
from specrunner.report.comparison import (
    change_text,
    check_common,
    check_suite,
    check_whole,
    compare_reports,
    p_text,
)
from specrunner.report.records import ComparedCell, Comparison, OutcomeName, Report
from specrunner.schemas import load_schema
from specrunner.shape import compile_shape

SCHEMAS = Path(__file__).parents[2] / "schemas"

P = "passed"
F = "failed"
E = "error"
U = "unknown"
N = "not_run"


def outcomes(passed: int, failed: int = 0, **others: int) -> list[OutcomeName]:
    runs: list[OutcomeName] = [P] * passed + [F] * failed
    for name, count in others.items():
        runs += [name] * count  # type: ignore[list-item]
    return runs


def compared(
    before: Sequence[Sequence[OutcomeName]], now: Sequence[Sequence[OutcomeName]], **options: Any
) -> Comparison:
    return compare_reports(
        make_report(before), make_report(now), base_file="base.json", new_file="new.json", **options
    )


def by_label(comparison: Comparison) -> dict[str, ComparedCell]:
    return {cell["label"]: cell for cell in comparison["cells"]}


# ---- what the issue asks


def test_a_report_compared_with_itself_flags_nothing() -> None:
    report = make_report([outcomes(10), outcomes(3, 7), outcomes(5, 3, error=2), outcomes(0, 4)])
    comparison = compare_reports(report, report, base_file="r.json", new_file="r.json")
    assert {cell["status"] for cell in comparison["cells"]} == {"unchanged"}
    assert comparison["summary"]["regressed"] == 0 and comparison["summary"]["tested"] == 4
    assert all(cell["note"] is None for cell in comparison["cells"])
    assert comparison["notes"] == []


def test_ten_of_ten_to_none_of_ten_regressed() -> None:
    cell = compared([outcomes(10)], [outcomes(0, 10)])["cells"][0]
    assert cell["status"] == "regressed"
    assert cell["p_worse"] == pytest.approx(1 / 184756)
    assert cell["q_worse"] == cell["p_worse"]  # one cell tested: nothing to adjust
    assert cell["change"] == -1.0
    assert cell["note"] is None  # it fails its rule now, as the verdicts say


def test_ten_of_ten_to_nine_of_ten_is_not_significant_and_says_so() -> None:
    cell = compared([outcomes(10)], [outcomes(9, 1)])["cells"][0]
    assert cell["status"] == "unchanged"
    assert cell["p_worse"] == 0.5
    assert cell["base"] and cell["base"]["met"] and cell["new"] and not cell["new"]["met"]
    assert cell["note"] == (
        "met its rule in the baseline and not now, but 9/10 against 10/10 is within chance "
        "(q = 0.5, above 0.05)"
    )


def test_an_improvement_needs_significance_too() -> None:
    by = by_label(compared([outcomes(0, 10), outcomes(2, 3)], [outcomes(10), outcomes(4, 1)]))
    assert by["n=0"]["status"] == "improved"
    assert by["n=0"]["q_better"] is not None and by["n=0"]["q_better"] < 0.05
    assert by["n=1"]["status"] == "unchanged"
    assert by["n=1"]["note"] is None  # failed its rule before and now


# ---- counting


def test_errors_count_as_not_passed_and_unknown_or_not_run_are_left_out() -> None:
    before = make_report([outcomes(10)])
    now = make_report([outcomes(4, 0, error=6, unknown=2, not_run=1)])
    comparison = compare_reports(before, now, base_file="a", new_file="b")
    cell = comparison["cells"][0]
    assert cell["new"] == {
        "passed": 4,
        "counted": 10,
        "left_out": 3,
        "pass_rate": 0.4,
        "met": False,
        "expect": {"pass_rate": 1.0},
    }
    assert cell["status"] == "regressed"
    assert comparison["notes"] == [
        "3 runs without a verdict (unknown or not run) left out of the counts"
    ]


def test_runs_a_sequential_cell_did_not_need_are_not_runs() -> None:
    before = make_report([outcomes(10)])
    now = make_report([outcomes(4, 0, not_needed=6)])
    comparison = compare_reports(before, now, base_file="a", new_file="b")
    cell = comparison["cells"][0]
    assert cell["new"] is not None
    assert (cell["new"]["passed"], cell["new"]["counted"], cell["new"]["left_out"]) == (4, 4, 0)
    assert cell["status"] == "unchanged" and comparison["notes"] == []


def test_a_cell_without_a_counted_run_on_one_side_is_not_compared() -> None:
    by = by_label(
        compared([outcomes(5), outcomes(0, 0, unknown=3)], [outcomes(0, 0, not_run=5), outcomes(3)])
    )
    assert by["n=0"]["status"] == "not_compared"
    assert by["n=0"]["p_worse"] is None and by["n=0"]["q_worse"] is None
    assert by["n=0"]["note"] == (
        "no run of it reached a verdict in the new report (its runs are unknown or not run)"
    )
    assert by["n=1"]["note"] is not None and "in the baseline" in by["n=1"]["note"]


def test_new_and_removed_cells_are_not_tested() -> None:
    before = make_report([outcomes(3), outcomes(3)])
    now = make_report([outcomes(3)])
    now["cells"][0]["cell"] = {"n": 7}  # another cell of the same scenario
    comparison = compare_reports(before, now, base_file="a", new_file="b")
    assert [(c["label"], c["status"]) for c in comparison["cells"]] == [
        ("n=0", "new"),
        ("n=0", "removed"),
        ("n=1", "removed"),
    ]
    assert comparison["cells"][0]["cell"] == {"n": 7}
    assert comparison["summary"] == {
        "regressed": 0,
        "improved": 0,
        "unchanged": 0,
        "not_compared": 0,
        "new": 1,
        "removed": 2,
        "tested": 0,
    }


def test_cells_match_by_scenario_and_values_whatever_their_order() -> None:
    before = make_report([outcomes(10), outcomes(10)])
    now = make_report([outcomes(10), outcomes(0, 10)])
    before["cells"][1]["cell"] = {"b": [1, 2], "a": "x"}
    now["cells"][1]["cell"] = {"a": "x", "b": [1, 2]}
    now["cells"].reverse()
    comparison = compare_reports(before, now, base_file="a", new_file="b")
    assert [c["status"] for c in comparison["cells"]] == ["regressed", "unchanged"]


# ---- many cells


def test_the_false_discovery_rate_is_held_over_the_tested_cells() -> None:
    # 10/10 then 4/10: no table is more extreme, p = C(14,10) * C(6,0) / C(20,10) =
    # 1001/184756 = 0.0054. Alone it is a regression; among 20 cells of which only it moved,
    # BH multiplies it by 20 (q = 0.108) and it is not.
    alone = compared([outcomes(10)], [outcomes(4, 6)])["cells"][0]
    assert alone["status"] == "regressed"
    assert alone["p_worse"] == pytest.approx(0.005418, abs=1e-6)
    many = compared([outcomes(10)] * 20, [outcomes(4, 6)] + [outcomes(10)] * 19)
    first = many["cells"][0]
    assert first["p_worse"] == alone["p_worse"]
    assert first["q_worse"] == pytest.approx(20 * alone["p_worse"])
    assert first["status"] == "unchanged"
    assert many["summary"]["tested"] == 20


def test_alpha_decides_what_is_significant() -> None:
    before, now = [outcomes(10)], [outcomes(6, 4)]  # p = 0.0433
    assert compared(before, now)["cells"][0]["status"] == "regressed"
    assert compared(before, now, alpha=0.01)["cells"][0]["status"] == "unchanged"
    with pytest.raises(UsageError, match=r"--alpha 0\.6"):
        compared(before, now, alpha=0.6)
    with pytest.raises(UsageError, match="--alpha 0"):
        compared(before, now, alpha=0)


# ---- notes


def test_notes_say_what_differs_besides_the_cells() -> None:
    before = make_report([outcomes(3)])
    now = copy.deepcopy(before)
    now["suite"]["version"] = 2
    now["environment"] = "production"
    now["selection"]["tags"] = ["smoke"]
    now["stopped"] = "interrupted"
    notes = compare_reports(before, now, base_file="a.json", new_file="b.json")["notes"]
    assert notes == [
        "the suite's version is 1 in a.json and 2 in b.json",
        "a.json ran in environment none and b.json in 'production'",
        "the two were selected differently (--tag, --scenario or --set): a cell outside one "
        "selection shows as new or removed",
        "b.json stopped early (interrupted): its results are partial",
    ]


def test_a_rule_that_changed_is_noted() -> None:
    before = make_report([outcomes(3)])
    now = make_report([outcomes(3)], expect={"min_passes": 2})
    cell = compare_reports(before, now, base_file="a", new_file="b")["cells"][0]
    assert cell["note"] == "its rule changed from pass_rate 1 to min_passes 2"


def test_a_regression_that_still_meets_its_rule_says_so() -> None:
    before = make_report([outcomes(20)], expect={"min_passes": 5})
    now = make_report([outcomes(8, 12)], expect={"min_passes": 5})
    cell = compare_reports(before, now, base_file="a", new_file="b")["cells"][0]
    assert cell["status"] == "regressed" and cell["new"] and cell["new"]["met"]
    assert cell["note"] == "still meets its rule, but 8/20 against 20/20 is a significant drop"


# ---- reports that cannot be compared


def test_a_shards_own_report_is_refused_but_a_whole_one_is_not() -> None:
    report = make_report([outcomes(3)])
    check_whole(report, "r.json", "compare")
    report["selection"]["shard"] = "1/1"
    check_whole(report, "r.json", "compare")
    report["selection"]["shard"] = "2/3"
    with pytest.raises(UsageError, match=r"^compare: r.json is the report of shard 2/3 alone"):
        check_whole(report, "r.json", "compare")


def test_another_suite_is_refused() -> None:
    report = make_report([outcomes(3)])
    check_suite(report, "a.json", "made", "b.json", "compare")
    with pytest.raises(UsageError) as caught:
        check_suite(report, "a.json", "other", "b.json", "compare")
    assert str(caught.value) == (
        "compare: a.json is a report of suite 'made' and b.json of suite 'other': compare two "
        "reports of one suite"
    )


def test_no_cell_in_common_is_refused() -> None:
    report = make_report([outcomes(3), outcomes(2)])
    check_common(report, "a.json", [("scenario-0000", {"n": 1})], "b.json", "compare")
    with pytest.raises(UsageError) as caught:
        check_common(report, "a.json", [("other", {"n": 1})], "b.json", "compare")
    assert str(caught.value) == (
        "compare: a.json and b.json have no cell in common (a.json: 2 cells of "
        "'scenario-0000'; b.json: 1 cell of 'other'): compare reports of the same scenarios "
        "and matrix values"
    )


# ---- the record


@pytest.fixture(scope="module")
def schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    compare = json.loads((SCHEMAS / "compare.v1.json").read_text(encoding="utf-8"))
    report = json.loads((SCHEMAS / "report.v1.json").read_text(encoding="utf-8"))
    return compare, report


def test_the_comparison_schema_is_the_reports_comparison(
    schemas: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    compare, report = schemas
    for name, definition in compare["$defs"].items():
        assert report["$defs"][name] == definition, name
    assert compare["$ref"] == report["properties"]["comparison"]["$ref"]


def test_comparisons_are_valid_by_both_schemas(
    schemas: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    compare, report_schema = schemas
    comparison = compared(
        [outcomes(10), outcomes(3), outcomes(2, 2, unknown=1), outcomes(1)],
        [outcomes(0, 10), outcomes(3), outcomes(0, 0, not_run=4), outcomes(2), outcomes(1)],
    )
    assert [e.message for e in Draft202012Validator(compare).iter_errors(comparison)] == []
    assert compile_shape(compare)(comparison)
    report: Report = make_report([outcomes(3)])
    report["comparison"] = comparison
    assert [e.message for e in Draft202012Validator(report_schema).iter_errors(report)] == []
    assert compile_shape(load_schema("report"))(report)
    broken: Any = copy.deepcopy(comparison)
    broken["cells"][0]["status"] = "worse"
    assert not compile_shape(compare)(broken)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (1.0, "1"),
        (0.9996, "1"),
        (0.5, "0.5"),
        (0.0433, "0.043"),
        (0.00054, "0.0005"),
        (5.41e-6, "5.4e-06"),
    ],
)
def test_p_text(value: float | None, text: str) -> None:
    assert p_text(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "-"), (-1.0, "-100 pts"), (0.125, "+12.5 pts"), (0.0, "0 pts"), (-0.0001, "-0.1 pts")],
)
def test_change_text(value: float | None, text: str) -> None:
    assert change_text(value) == text


# ---- the worked example of docs/reports.md

DOC = Path(__file__).parents[2] / "docs" / "reports.md"
EXAMPLE_ROW = re.compile(r"^\| `([^`]+)` \| (\d+)/10 \| (.+) \| (.+) \| (\w+) \|$", re.MULTILINE)


def test_the_worked_example_in_the_docs_is_what_specrunner_computes() -> None:
    section = DOC.read_text(encoding="utf-8").split("**A worked example.**", 1)[1]
    rows = EXAMPLE_ROW.findall(section.split("\n\n", 2)[1])
    assert len(rows) == 3
    before = make_report([outcomes(10)] * 3)
    now = make_report([outcomes(int(passes), 10 - int(passes)) for _, passes, *_ in rows])
    cells = compare_reports(before, now, base_file="a", new_file="b")["cells"]
    for (_, _, p, q, status), cell in zip(rows, cells, strict=True):
        assert p.rsplit("= ", 1)[-1] == p_text(cell["p_worse"])
        assert q.rsplit("= ", 1)[-1] == p_text(cell["q_worse"])
        assert status == cell["status"]


@pytest.mark.parametrize(("runs", "smallest"), [(10, 6), (20, 15)])
def test_the_smallest_significant_drop_the_docs_give(runs: int, smallest: int) -> None:
    def status(passes: int) -> str:
        return compared([outcomes(runs)], [outcomes(passes, runs - passes)])["cells"][0]["status"]

    assert status(smallest) == "regressed"
    assert status(smallest + 1) == "unchanged"
    assert f"to {smallest}/{runs}" in " ".join(DOC.read_text(encoding="utf-8").split())
