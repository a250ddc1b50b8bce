"""What the history keeps of a report: its identity, where and when it ran, its verdict,
and per cell the counts, pass rate, durations and verdict. Nothing else of the report (no
payload, transcript or error text) is kept, and the report itself is already masked."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from specrunner.judge import OUTCOMES, percentile
from specrunner.report.cekura_details import finite_number
from specrunner.report.json_text import ItemsJson, canonical_pieces
from specrunner.report.records import Report, ReportRun


class Source(StrEnum):
    """How a report came into the history."""

    RUN = "run"
    MERGE = "merge"
    IMPORT = "import"


@dataclass(frozen=True, slots=True)
class CellEntry:
    """One cell of a recorded report."""

    cell: str
    """The cell's id: its scenario, and its matrix values in brackets."""
    scenario: str
    label: str
    outcomes: tuple[int, ...]
    """Runs per outcome, in the order of `judge.OUTCOMES` (`not_needed` last)."""
    pass_rate: float | None
    met: bool
    flaky: bool
    duration_median: float | None
    duration_p95: float | None

    @property
    def runs(self) -> int:
        """Its runs, those a sequential cell did not need left out."""
        return sum(self.outcomes[:-1])


@dataclass(frozen=True, slots=True)
class Entry:
    """A report as the history records it."""

    id: str
    """The SHA-256 of the report's content: the same report recorded twice (by the run
    that wrote it, then imported from its JSON file) is one entry."""
    suite: str
    suite_version: int
    suite_file: str
    environment: str | None
    selection: str
    """The report's selection, as JSON."""
    shard: str | None
    partial: bool
    """The run stopped early, or the merge lacked shards: not every planned run ran."""
    git_commit: str | None
    started_at: str | None
    finished_at: str
    specrunner: str
    passed: bool
    cells_passed: int
    flaky_cells: int
    runs: int
    pass_rate: float | None
    duration_median: float | None
    duration_p95: float | None
    cells: tuple[CellEntry, ...]

    @property
    def whole(self) -> bool:
        """The report is of the whole plan, every run of it run: a run without --shard
        that was not stopped, or a merge of every shard."""
        return self.shard is None and not self.partial


def report_id(report: Report, runs: ItemsJson | None = None) -> str:
    """The report's identity: the hash of its content, however its file was laid out: of
    its canonical JSON (`canonical_json`), as every report id was ever hashed. `runs`, the
    texts its runs were written out as when it was made, only makes that faster."""
    digest = hashlib.sha256()
    for piece in canonical_pieces(report, runs):
        digest.update(piece)
    return digest.hexdigest()


def entry_of(report: Report, runs: ItemsJson | None = None) -> Entry:
    verdict = report["verdict"]
    durations = verdict["duration_seconds"]
    plan = report.get("plan")
    missing = bool(plan.get("missing")) if plan is not None else False
    by_key = {run["key"]: run for run in report["runs"]}
    cells = tuple(
        _cell_entry(cell, [by_key[k] for k in cell["keys"] if k in by_key])
        for cell in report["cells"]
    )
    return Entry(
        id=report_id(report, runs),
        suite=report["suite"]["name"],
        suite_version=report["suite"]["version"],
        suite_file=report["suite"]["file"],
        environment=report["environment"],
        selection=json.dumps(report["selection"], sort_keys=True, ensure_ascii=False),
        shard=report["selection"]["shard"],
        partial=bool(report.get("stopped")) or missing,
        git_commit=report["git"]["commit"],
        started_at=report["started_at"],
        finished_at=report["finished_at"],
        specrunner=report["specrunner"],
        passed=bool(verdict["passed"]),
        cells_passed=verdict["cells_passed"],
        flaky_cells=verdict["flaky_cells"],
        runs=verdict["runs"],
        pass_rate=_number(verdict["pass_rate"]),
        duration_median=_number(durations["median"]),
        duration_p95=_number(durations["p95"]),
        cells=cells,
    )


def _cell_entry(cell: Any, runs: list[ReportRun]) -> CellEntry:
    durations = [
        float(d) for r in runs if (d := finite_number(r.get("duration_seconds"))) is not None
    ]
    return CellEntry(
        cell=cell["id"],
        scenario=cell["scenario"],
        label=cell["label"],
        outcomes=tuple(int(cell["outcomes"].get(name, 0)) for name in OUTCOMES),
        pass_rate=_number(cell["pass_rate"]),
        met=bool(cell["met"]),
        flaky=bool(cell["flaky"]),
        duration_median=percentile(durations, 50),
        duration_p95=percentile(durations, 95),
    )


def _number(value: Any) -> float | None:
    number = finite_number(value)
    return None if number is None else float(number)
