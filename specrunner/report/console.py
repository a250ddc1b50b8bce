"""The end-of-run summary for the terminal: the verdict, one row per cell, failing runs.

Plain text without colour. Text from the suite or from Cekura is made one line, with
control characters and bidi controls shown as escapes (`specrunner.text.visible`), so an
error message cannot move the cursor, clear the screen, set the window title, reorder
what is read or break the table's columns. The wording helpers here (`expect_text`,
`percent`, `run_reason`, `one_line`) are shared by the JUnit and Markdown views, so that
every view says the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from specrunner.report.build import cell_id
from specrunner.report.comparison import regressed
from specrunner.report.comparison_console import comparison_lines
from specrunner.report.records import Report, ReportCell
from specrunner.report.wording import (
    expect_text,
    one_line,
    outcome_counts,
    percent,
    run_reason,
    sequential_text,
)

MAX_CELL_ROWS = 200
MAX_ERROR_LINES = 20
MAX_COLUMN = 48
MAX_ERROR = 160


def console_summary(report: Report) -> list[str]:
    lines = [_headline(report)]
    cells = report["cells"]
    if not cells:
        lines.append("No cells were run.")
        return lines + _compared(report)
    shown = _shown_cells(cells, MAX_CELL_ROWS)
    rows: list[tuple[str, ...]] = [("SCENARIO", "CELL", "PASSED", "RATE", "EXPECT", "VERDICT", "")]
    rows += [_cell_row(cell) for cell in shown]
    lines.append("")
    lines += _align(rows, right={2, 3})
    hidden = len(cells) - len(shown)
    if hidden:
        all_met = sum(not c["met"] for c in cells) == sum(not c["met"] for c in shown)
        lines.append(f"... and {hidden} more cells" + (", all met" if all_met else ""))
    sequences = [
        f"  {one_line(cell['id'], MAX_COLUMN)}: {text}"
        for cell in shown
        if (text := sequential_text(cell)) is not None
    ]
    if sequences:
        lines.append("")
        lines.append("Sequential cells:")
        lines += sequences[:MAX_ERROR_LINES]
        if len(sequences) > MAX_ERROR_LINES:
            lines.append(f"  ... and {len(sequences) - MAX_ERROR_LINES} more sequential cells")
    errors = list(_failing_runs(report))
    if errors:
        lines.append("")
        lines.append("Failing runs:")
        lines += [f"  {line}" for line in errors[:MAX_ERROR_LINES]]
        if len(errors) > MAX_ERROR_LINES:
            lines.append(f"  ... and {len(errors) - MAX_ERROR_LINES} more failing runs")
    return lines + _compared(report)


def _compared(report: Report) -> list[str]:
    """With a baseline: what changed against it, under the run's own summary."""
    comparison = report.get("comparison")
    if comparison is None:
        return []
    return ["", *comparison_lines(comparison, of_run=True)]


def _headline(report: Report) -> str:
    verdict = report["verdict"]
    environment = report["environment"]
    where = f" ({one_line(environment)})" if environment else ""
    cells = f"{verdict['cells_passed']}/{verdict['cells']} cells met"
    if verdict["flaky_cells"]:
        cells += f", {verdict['flaky_cells']} flaky"
    rate = percent(verdict["pass_rate"])
    word = "FAILED" if not verdict["passed"] else "PASSED"
    if verdict["passed"] and regressed(report.get("comparison")):
        word = "REGRESSED"
    return (
        f"{word}  {one_line(report['suite']['name'])}"
        f"{where}: {cells}; {outcome_counts(verdict['runs'], verdict['outcomes'])}; "
        f"pass rate {rate}"
    )


def _shown_cells(cells: Sequence[ReportCell], limit: int) -> list[ReportCell]:
    """All cells, or over `limit`, the failing first, then the flaky, then the rest, shown
    in the report's order."""
    if len(cells) <= limit:
        return list(cells)
    ranked = sorted(range(len(cells)), key=lambda i: (cells[i]["met"], not cells[i]["flaky"]))
    return [cells[i] for i in sorted(ranked[:limit])]


def _cell_row(cell: ReportCell) -> tuple[str, ...]:
    return (
        one_line(cell["scenario"], MAX_COLUMN),
        one_line(cell["label"], MAX_COLUMN),
        f"{cell['outcomes']['passed']}/{cell['runs']}",
        percent(cell["pass_rate"]),
        expect_text(cell["expect"]),
        "MET" if cell["met"] else "FAILED",
        "FLAKY" if cell["flaky"] else "",
    )


def _align(rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            text.rjust(widths[i]) if i in right else text.ljust(widths[i])
            for i, text in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def _failing_runs(report: Report) -> Iterable[str]:
    for run in report["runs"]:
        if run["outcome"] in ("passed", "not_needed"):
            continue
        reason = run_reason(run)
        label = cell_id(run["scenario"], run["cell"])
        outcome = run["outcome"].replace("_", " ")
        line = f"{outcome}: {one_line(label, MAX_COLUMN)} repeat {run['repeat']}"
        yield line + (f": {one_line(reason, MAX_ERROR)}" if reason else "")
