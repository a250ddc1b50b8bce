"""A comparison for the terminal: a headline, the two reports, and a table of the cells that
changed (regressed, improved, a verdict that flipped within chance, not compared, new,
removed). Cells that did not change are only counted.

Text from the reports is made one line with control and bidi characters shown as escapes
(`one_line`). Colour only where the caller says the output may have it (a terminal,
without NO_COLOR): the status words, red for a regression and green for an improvement.
"""

from __future__ import annotations

from collections.abc import Sequence

from specrunner.report.comparison import (
    STATUSES,
    change_text,
    counts_text,
    p_text,
    summary_counts,
)
from specrunner.report.records import ChangeStatus, ComparedCell, ComparedReport, Comparison
from specrunner.report.wording import one_line

MAX_ROWS = 200
MAX_COLUMN = 40
MAX_NOTE = 160

_RESET = "\x1b[0m"
_PAINT: dict[ChangeStatus, str] = {"regressed": "\x1b[1;31m", "improved": "\x1b[1;32m"}


def comparison_lines(
    comparison: Comparison, *, colour: bool = False, of_run: bool = False
) -> list[str]:
    """What `specrunner compare` prints; with `of_run`, the section a run with --baseline
    prints under its own summary (its headline names the baseline only)."""
    summary = comparison["summary"]
    lines = [_headline(comparison, of_run=of_run)]
    if not of_run:
        lines += [
            f"  base: {_report_line(comparison['base'])}",
            f"  new:  {_report_line(comparison['new'])}",
        ]
    shown = listed(comparison["cells"])
    if shown:
        rows: list[tuple[str, ...]] = [
            ("STATUS", "SCENARIO", "CELL", "BASE", "NOW", "CHANGE", "Q", "NOTE")
        ]
        rows += [_row(cell) for cell in shown[:MAX_ROWS]]
        if not any(row[-1] for row in rows[1:]):
            rows = [row[:-1] for row in rows]  # no note to head
        lines.append("")
        lines += _align(rows, colour=colour)
        if len(shown) > MAX_ROWS:
            lines.append(f"... and {len(shown) - MAX_ROWS} more changed cells")
    quiet = summary["unchanged"] - sum(c["status"] == "unchanged" for c in shown)
    if quiet and shown:
        lines.append(f"{quiet} more {_cells(quiet)} unchanged")
    lines += [f"note: {one_line(note)}" for note in comparison["notes"]]
    lines.append(method_line(comparison))
    return lines


def listed(cells: Sequence[ComparedCell]) -> list[ComparedCell]:
    """The cells worth a row, by kind of change: every cell but those unchanged without a
    note (a verdict that flipped within chance, a rule that changed)."""
    worth = [c for c in cells if c["status"] != "unchanged" or c["note"]]
    return sorted(worth, key=lambda c: STATUSES.index(c["status"]))


def _headline(comparison: Comparison, *, of_run: bool) -> str:
    summary = comparison["summary"]
    counts = ", ".join(f"{n} {words}" for words, n in summary_counts(summary))
    if of_run:
        base = comparison["base"]
        name = one_line(base["file"] or "the baseline", MAX_COLUMN)
        return f"Against the baseline {name} ({_when(base)}): {counts}"
    word = "REGRESSED" if summary["regressed"] else "NO REGRESSION"
    return f"{word}  {one_line(comparison['suite'])}: {counts}"


def _report_line(report: ComparedReport) -> str:
    parts = [one_line(report["file"] or "this run"), _when(report)]
    if report["environment"]:
        parts.append(f"environment {one_line(report['environment'])}")
    parts.append("passed" if report["passed"] else "failed")
    return ", ".join(parts)


def _when(report: ComparedReport) -> str:
    commit = report["git_commit"]
    finished = f"finished {one_line(report['finished_at'])}"
    return f"{finished}, commit {one_line(commit[:12])}" if commit else finished


def _row(cell: ComparedCell) -> tuple[str, ...]:
    base, new = cell["base"], cell["new"]
    rate = change_text(cell["change"]) if cell["change"] is not None else ""
    q = shown_q(cell)
    return (
        status_word(cell["status"]),
        one_line(cell["scenario"], MAX_COLUMN),
        one_line(cell["label"], MAX_COLUMN),
        counts_text(base) if base else "-",
        counts_text(new) if new else "-",
        rate,
        p_text(q) if q is not None else "",
        one_line(cell["note"], MAX_NOTE) if cell["note"] else "",
    )


def status_word(status: ChangeStatus) -> str:
    return status.replace("_", " ")


def shown_q(cell: ComparedCell) -> float | None:
    """The adjusted p-value of the way the cell moved (of "worse" when it did not move)."""
    change = cell["change"]
    if change is not None and change > 0:
        return cell["q_better"]
    return cell["q_worse"]


def method_line(comparison: Comparison) -> str:
    method = comparison["method"]
    tested = comparison["summary"]["tested"]
    return (
        f"Fisher's exact test per cell (passes out of passed, failed and error runs), "
        f"one-sided; false discovery rate held at {method['alpha']:g} over {tested} "
        f"tested {_cells(tested)} (Benjamini-Hochberg)."
    )


def _cells(count: int) -> str:
    return "cell" if count == 1 else "cells"


def _align(rows: Sequence[Sequence[str]], *, colour: bool) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {3, 4, 5, 6}
    lines = []
    for number, row in enumerate(rows):
        cells = [
            text.rjust(widths[i]) if i in right else text.ljust(widths[i])
            for i, text in enumerate(row)
        ]
        status = _status_of(row[0])
        paint = _PAINT.get(status) if colour and number and status else None
        if paint:
            cells[0] = f"{paint}{cells[0]}{_RESET}"
        lines.append("  ".join(cells).rstrip())
    return lines


def _status_of(word: str) -> ChangeStatus | None:
    return next((s for s in STATUSES if status_word(s) == word), None)
