"""The history a report's charts draw: the suite's recorded runs before the report (in its
environment, of whole plans), then the report itself."""

from __future__ import annotations

from specrunner.history.entries import Entry
from specrunner.history.store import HistoryStore
from specrunner.report.charts import TREND_RUNS, CellPoint, RunPoint, Trend


def report_trend(store: HistoryStore, own: Entry, *, runs: int = TREND_RUNS) -> Trend:
    """The trend up to `own` (the report's entry): it is the last run whether or not it
    was recorded, and a re-rendered old report shows the history as it was then."""
    recorded = store.reports(own.suite, own.environment, last=runs, until=own.finished_at)
    earlier = [r.entry for r in recorded if r.entry.id != own.id][: runs - 1]
    entries = [*reversed(earlier), own]
    by_entry = [{cell.cell: cell for cell in entry.cells} for entry in entries]
    cells = {
        cell.cell: tuple(
            None if (c := cells_of.get(cell.cell)) is None else CellPoint(c.pass_rate, c.met)
            for cells_of in by_entry
        )
        for cell in own.cells
    }
    return Trend(
        runs=tuple(
            RunPoint(
                finished_at=entry.finished_at,
                pass_rate=entry.pass_rate,
                passed=entry.passed,
                cells_passed=entry.cells_passed,
                cells=len(entry.cells),
                git_commit=entry.git_commit,
            )
            for entry in entries
        ),
        cells=cells,
    )
