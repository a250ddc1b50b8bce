"""The end-of-run summary for the terminal: the verdict, one row per cell, failing runs.

Plain text without colour. Text from the suite or from Cekura is made one line, with
control characters shown as escapes, so an error message cannot move the cursor, clear
the screen or break the table's columns. The wording helpers here (`expect_text`,
`percent`, `run_reason`, `one_line`) are shared by the JUnit and Markdown views, so that
every view says the same thing the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from specrunner.judge import OUTCOMES
from specrunner.models import Expectation
from specrunner.report.build import cell_id

MAX_CELL_ROWS = 200
MAX_ERROR_LINES = 20
MAX_COLUMN = 48
MAX_ERROR = 160

# Control characters other than the whitespace that `one_line` folds into spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def console_summary(report: Mapping[str, Any]) -> list[str]:
    lines = [_headline(report)]
    cells: Sequence[Mapping[str, Any]] = report["cells"]
    if not cells:
        lines.append("No cells were run.")
        return lines
    shown = _shown_cells(cells, MAX_CELL_ROWS)
    rows: list[tuple[str, ...]] = [("SCENARIO", "CELL", "PASSED", "RATE", "EXPECT", "VERDICT", "")]
    rows += [_cell_row(cell) for cell in shown]
    lines.append("")
    lines += _align(rows, right={2, 3})
    hidden = len(cells) - len(shown)
    if hidden:
        all_met = sum(not c["met"] for c in cells) == sum(not c["met"] for c in shown)
        lines.append(f"... and {hidden} more cells" + (", all met" if all_met else ""))
    errors = list(_failing_runs(report))
    if errors:
        lines.append("")
        lines.append("Failing runs:")
        lines += [f"  {line}" for line in errors[:MAX_ERROR_LINES]]
        if len(errors) > MAX_ERROR_LINES:
            lines.append(f"  ... and {len(errors) - MAX_ERROR_LINES} more failing runs")
    return lines


def _headline(report: Mapping[str, Any]) -> str:
    verdict = report["verdict"]
    environment = report["environment"]
    where = f" ({one_line(environment)})" if environment else ""
    cells = f"{verdict['cells_passed']}/{verdict['cells']} cells met"
    if verdict["flaky_cells"]:
        cells += f", {verdict['flaky_cells']} flaky"
    rate = percent(verdict["pass_rate"])
    return (
        f"{'PASSED' if verdict['passed'] else 'FAILED'}  {one_line(report['suite']['name'])}"
        f"{where}: {cells}; {outcome_counts(verdict['runs'], verdict['outcomes'])}; "
        f"pass rate {rate}"
    )


def _shown_cells(cells: Sequence[Mapping[str, Any]], limit: int) -> list[Mapping[str, Any]]:
    """All cells, or over `limit`, the failing first, then the flaky, then the rest, shown
    in the report's order."""
    if len(cells) <= limit:
        return list(cells)
    ranked = sorted(range(len(cells)), key=lambda i: (cells[i]["met"], not cells[i]["flaky"]))
    return [cells[i] for i in sorted(ranked[:limit])]


def _cell_row(cell: Mapping[str, Any]) -> tuple[str, ...]:
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


def _failing_runs(report: Mapping[str, Any]) -> Iterable[str]:
    for run in report["runs"]:
        if run["outcome"] == "passed":
            continue
        reason = run_reason(run)
        label = cell_id(run["scenario"], run["cell"])
        outcome = run["outcome"].replace("_", " ")
        line = f"{outcome}: {one_line(label, MAX_COLUMN)} repeat {run['repeat']}"
        yield line + (f": {one_line(reason, MAX_ERROR)}" if reason else "")


# Wording shared by the views.


def expect_text(expect: Mapping[str, Any]) -> str:
    """A cell's rule as the suite writes it: `pass_rate 0.66`, `min_passes 4`."""
    return Expectation(
        pass_rate=expect.get("pass_rate", 1.0), min_passes=expect.get("min_passes")
    ).describe()


def percent(rate: float | None) -> str:
    """A rate as a percentage with one decimal at most; 100% and 0% only when exact."""
    if rate is None:
        return "-"
    text = f"{rate * 100:.1f}"
    if text == "100.0" and rate < 1:
        text = "99.9"
    elif text == "0.0" and rate > 0:
        text = "0.1"
    return text.removesuffix(".0") + "%"


def outcome_counts(runs: int, outcomes: Mapping[str, int]) -> str:
    """`39 runs: 36 passed, 3 failed` (outcomes that occurred, in the usual order)."""
    parts = [f"{outcomes[name]} {name.replace('_', ' ')}" for name in OUTCOMES if outcomes[name]]
    noun = "run" if runs == 1 else "runs"
    return f"{runs} {noun}" + (f": {', '.join(parts)}" if parts else "")


def run_reason(run: Mapping[str, Any]) -> str | None:
    """Why a run did not pass: its error, or for a failed run Cekura's explanation of its
    expected outcome."""
    if run.get("error"):
        return str(run["error"])
    expected = run.get("expected_outcome")
    if run["outcome"] == "failed" and expected and expected.get("explanation"):
        return " ".join(str(e) for e in expected["explanation"])
    return None


def one_line(value: Any, limit: int | None = None) -> str:
    """Text on one line (whitespace runs folded to a space, other control characters
    escaped), cut to `limit` characters with an ellipsis."""
    text = " ".join(str(value).split())
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text
