"""The end-of-run summary for the terminal."""

from __future__ import annotations

import re

import pytest
from report_factory import cells_report, check_golden, make_report, rejudged

from specrunner.report.console import MAX_CELL_ROWS, MAX_ERROR_LINES, console_summary
from specrunner.report.wording import expect_text, one_line, percent, run_reason


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def test_golden_cells_report() -> None:
    check_golden("cells.console.txt", text(console_summary(cells_report())))


def test_golden_all_met() -> None:
    report = rejudged(
        cells_report(), ["order-pizza [locale=en-US]", "refund-request [payment=card]"]
    )
    check_golden("all-met.console.txt", text(console_summary(report)))


def test_the_headline_says_the_verdict_and_the_counts() -> None:
    headline = console_summary(cells_report())[0]
    assert headline == (
        "FAILED  checkout-cells (staging): 2/6 cells met, 2 flaky; 16 runs: 7 passed, "
        "4 failed, 3 error, 1 unknown, 1 not run; pass rate 43.8%"
    )
    passing = make_report([["passed"]])
    assert (
        console_summary(passing)[0]
        == "PASSED  made: 1/1 cells met; 1 run: 1 passed; pass rate 100%"
    )


def test_columns_are_aligned() -> None:
    lines = console_summary(cells_report())
    table = lines[2 : 2 + 1 + len(cells_report()["cells"])]
    assert table[0].startswith("SCENARIO")
    verdict_column = table[0].index("VERDICT")
    for row in table[1:]:
        assert row[verdict_column:].split()[0] in ("MET", "FAILED"), row
    passed_end = table[0].index("PASSED") + len("PASSED")
    for row in table[1:]:
        assert re.fullmatch(r"\d+/\d+", row[:passed_end].split()[-1]), row


def test_text_from_the_suite_and_cekura_cannot_reach_the_terminal_raw() -> None:
    lines = console_summary(cells_report())
    for line in lines:
        assert "\n" not in line and "\r" not in line
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", line), repr(line)
    joined = text(lines)
    assert "\\x1b[31m" in joined, "an escape sequence is shown, not sent"
    assert "\\x00\\x07" in joined


def test_rows_over_the_cap_keep_the_failing_cells() -> None:
    # 250 cells, the last three failing: 200 rows, which include those three.
    outcomes = [["passed"]] * 247 + [["failed"]] * 3
    lines = console_summary(make_report(outcomes))
    rows = [line for line in lines if line.endswith(("MET", "FAILED"))]
    assert len(rows) == MAX_CELL_ROWS
    assert sum(row.endswith("FAILED") for row in rows) == 3
    assert "... and 50 more cells, all met" in lines


def test_hidden_cells_that_fail_are_not_called_met() -> None:
    lines = console_summary(make_report([["failed"]] * 230))
    assert "... and 30 more cells" in lines


def test_failing_runs_are_capped() -> None:
    lines = console_summary(make_report([["error"]] * 25))
    start = lines.index("Failing runs:")
    shown = lines[start + 1 :]
    assert len(shown) == MAX_ERROR_LINES + 1
    assert shown[0] == "  error: scenario-0000 [n=0] repeat 1: Cekura: the run ended timeout"
    assert shown[-1] == "  ... and 5 more failing runs"


def test_a_report_without_cells() -> None:
    lines = console_summary(make_report([]))
    assert lines == ["PASSED  made: 0/0 cells met; 0 runs; pass rate -", "No cells were run."]


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        (None, "-"),
        (1.0, "100%"),
        (0.0, "0%"),
        (2 / 3, "66.7%"),
        (0.5, "50%"),
        (0.9996, "99.9%"),
        (0.0004, "0.1%"),
    ],
)
def test_percent(rate: float | None, shown: str) -> None:
    assert percent(rate) == shown


def test_expect_text_is_the_suite_wording() -> None:
    assert expect_text({"pass_rate": 1.0}) == "pass_rate 1"
    assert expect_text({"pass_rate": 0.66}) == "pass_rate 0.66"
    assert expect_text({"min_passes": 4}) == "min_passes 4"


def test_run_reason() -> None:
    failed = {"outcome": "failed", "error": None, "expected_outcome": {"explanation": ["A.", "B."]}}
    assert run_reason(failed) == "A. B."
    assert run_reason({**failed, "error": "boom"}) == "boom"
    assert run_reason({**failed, "expected_outcome": None}) is None
    assert run_reason({**failed, "outcome": "passed"}) is None


def test_one_line() -> None:
    assert one_line("a\n  b\tc\r\n") == "a b c"
    assert one_line("\x1b[2J") == "\\x1b[2J"
    assert one_line("abcdef", 4) == "abc…"
    assert one_line(42) == "42"
