"""A suite's history read back: each cell's pass rate over the last runs, and the cells
whose verdict flips between met and not met from run to run.

A cell's verdict changing once is a regression (or a fix): it is shown as a change. A cell
whose verdict changed at least twice in the window (met, not met, met again; or the other
way round) is flaky across runs: no single run of it can be trusted to say how it does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

from specrunner.history.entries import CellEntry
from specrunner.history.store import HistoryStore, Recorded

FLAKY_FLIPS: Final = 2
"""Changes of verdict, within the window, that make a cell flaky across runs."""


@dataclass(frozen=True, slots=True)
class CellTrend:
    """One cell over the window's runs (`trend` makes one, and works out its sums)."""

    cell: str
    scenario: str
    label: str
    points: tuple[CellEntry | None, ...]
    """The cell in each run of the window, most recent first; None where a run did not
    have it (another selection, or the cell did not exist then)."""
    recorded: tuple[CellEntry, ...]
    """`points` without the runs that lacked the cell."""
    runs: int
    passes: int
    met: int
    """In how many of the window's runs the cell met its rule."""
    flips: int
    """How often the verdict changed from one run of the cell to its next."""

    @property
    def pass_rate(self) -> float | None:
        """Passes over runs, across every run of the window that had the cell."""
        return self.passes / self.runs if self.runs else None

    @property
    def flaky_across_runs(self) -> bool:
        return self.flips >= FLAKY_FLIPS


def trend(cell: str, scenario: str, label: str, points: tuple[CellEntry | None, ...]) -> CellTrend:
    recorded = tuple(point for point in points if point is not None)
    verdicts = [point.met for point in recorded]
    return CellTrend(
        cell=cell,
        scenario=scenario,
        label=label,
        points=points,
        recorded=recorded,
        runs=sum(point.runs for point in recorded),
        passes=sum(point.outcomes[0] for point in recorded),
        met=sum(verdicts),
        flips=sum(a != b for a, b in itertools.pairwise(verdicts)),
    )


@dataclass(frozen=True, slots=True)
class SuiteHistory:
    suite: str
    environment: str | None
    reports: tuple[Recorded, ...]
    """The window: the last recorded reports of whole plans, most recent first."""
    cells: tuple[CellTrend, ...]
    """In the order of the latest report's cells, then those only earlier runs had."""

    @property
    def flaky_across_runs(self) -> tuple[CellTrend, ...]:
        return tuple(cell for cell in self.cells if cell.flaky_across_runs)

    @property
    def changed(self) -> tuple[CellTrend, ...]:
        """Cells whose verdict changed once in the window: regressions and fixes."""
        return tuple(cell for cell in self.cells if cell.flips == 1)


def suite_history(
    store: HistoryStore,
    suite: str,
    environment: str | None,
    *,
    last: int,
    until: str | None = None,
) -> SuiteHistory:
    """The last `last` whole-plan reports of `suite` in `environment` (finished at or
    before `until`, when given), cell by cell."""
    reports = tuple(store.reports(suite, environment, last=last, until=until))
    return SuiteHistory(suite, environment, reports, trends_of(reports))


def trends_of(reports: tuple[Recorded, ...]) -> tuple[CellTrend, ...]:
    """Each cell of `reports` (most recent first) over all of them."""
    order: dict[str, CellEntry] = {}
    by_report: list[dict[str, CellEntry]] = []
    for recorded in reports:
        cells = {cell.cell: cell for cell in recorded.entry.cells}
        by_report.append(cells)
        for key, cell in cells.items():
            order.setdefault(key, cell)
    return tuple(
        trend(key, first.scenario, first.label, tuple(cells.get(key) for cells in by_report))
        for key, first in order.items()
    )
