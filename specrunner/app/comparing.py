"""`specrunner compare BASE.json NEW.json`, and the baseline of `run --baseline` and
`merge --baseline`: two reports of one suite compared cell by cell.

A report that cannot be compared is refused with one message naming the file (exit 2):
not a report, the report of one shard alone, a report of another suite, no cell in
common, or (for `compare`) no cell with runs that reached a verdict on both sides. A
baseline is read and checked before a run sends anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrunner.errors import ExitCode, UsageError
from specrunner.models import Plan
from specrunner.report.comparison import (
    DEFAULT_ALPHA,
    check_alpha,
    check_common,
    check_suite,
    check_whole,
    compare_reports,
    regressed,
)
from specrunner.report.comparison_console import comparison_lines
from specrunner.report.comparison_markdown import render_comparison_markdown
from specrunner.report.markdown import append_to_step_summary
from specrunner.report.records import Comparison, PlanCell, Report, ReportCell
from specrunner.report.saved import read_report
from specrunner.report.write import (
    check_outputs,
    comparison_renderers,
    write_rendered,
    wrote_lines,
)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A report to compare another with, read and checked, and the name it was given by."""

    report: Report
    path: str
    alpha: float = DEFAULT_ALPHA

    def compare(self, report: Report, *, file: str | None = None) -> Comparison:
        """`report` compared with this baseline (`file`: its name, None for a run's own)."""
        return compare_reports(
            self.report, report, base_file=self.path, new_file=file, alpha=self.alpha
        )


@dataclass(frozen=True, slots=True)
class Compared:
    """What `specrunner compare` made: the comparison, and where it went."""

    comparison: Comparison
    written: tuple[str, ...]
    step_summary: bool

    @property
    def exit_code(self) -> int:
        return ExitCode.EXPECTATIONS_NOT_MET if regressed(self.comparison) else ExitCode.OK

    def lines(self, *, colour: bool = False) -> list[str]:
        lines = comparison_lines(self.comparison, colour=colour)
        return [*lines, *wrote_lines(self.written, step_summary=self.step_summary)]


def read(path: str, who: str | None = None) -> Report:
    """A saved report (`read_report`). `who` (the command or option that reads it) starts
    the message of a file that is not a report."""
    try:
        return read_report(path)
    except UsageError as error:
        if who is None:
            raise
        raise UsageError(f"{who}: {error}") from None


def compare(
    base_path: str,
    new_path: str,
    outputs: Sequence[str] = (),
    *,
    alpha: float = DEFAULT_ALPHA,
    environ: Mapping[str, str] | None = None,
) -> Compared:
    """`specrunner compare`: NEW.json against BASE.json, written to each of `outputs`."""
    check_alpha(alpha)
    check_outputs(outputs, comparison_renderers(), what="comparison")
    base, new = read(base_path, "compare"), read(new_path, "compare")
    for report, name in ((base, base_path), (new, new_path)):
        check_whole(report, name, "compare")
    check_suite(base, base_path, new["suite"]["name"], new_path, "compare")
    check_common(base, base_path, _cells(new["cells"]), new_path, "compare")
    comparison = compare_reports(base, new, base_file=base_path, new_file=new_path, alpha=alpha)
    if not comparison["summary"]["tested"]:
        raise UsageError(
            f"compare: no cell of both {base_path} and {new_path} has a run that reached a "
            "verdict (passed, failed or error) on both sides: there is nothing to compare"
        )
    write_rendered(comparison, [Path(o) for o in outputs], comparison_renderers())
    text = render_comparison_markdown(comparison)
    appended = append_to_step_summary(text, os.environ if environ is None else environ)
    return Compared(comparison, tuple(outputs), appended is not None)


def baseline_for_plan(path: str, plan: Plan, *, alpha: float = DEFAULT_ALPHA) -> Baseline:
    """`run --baseline PATH`: the baseline, checked against the plan before anything is
    sent (a whole report of the plan's suite with a cell in common; no --shard)."""
    check_alpha(alpha)
    if plan.selection.shard is not None and plan.selection.shard[1] > 1:
        raise UsageError(
            "--baseline: a shard holds only some runs of its cells; run the shards without "
            "--baseline, then compare the merged report: specrunner merge SHARDS... "
            f"--baseline {path} -o merged.json"
        )
    report = read(path, "--baseline")
    check_whole(report, path, "--baseline")
    check_suite(report, path, plan.suite_name, "this run", "--baseline")
    cells = [(s.name, cell) for s in plan.scenarios for cell in s.cells]
    check_common(report, path, cells, "this run's plan", "--baseline")
    return Baseline(report, path, alpha)


def baseline_for_reports(
    path: str, reports: Sequence[Report], names: Sequence[str], *, alpha: float = DEFAULT_ALPHA
) -> Baseline:
    """`merge --baseline PATH`: the baseline, checked against the shards' suite and cells
    before they are merged."""
    check_alpha(alpha)
    report = read(path, "--baseline")
    check_whole(report, path, "--baseline")
    first = reports[0]
    check_suite(report, path, first["suite"]["name"], names[0], "--baseline")
    plan = first.get("plan")
    cells = plan["cells"] if plan is not None else first["cells"]
    check_common(report, path, _cells(cells), "the merged plan", "--baseline")
    return Baseline(report, path, alpha)


def _cells(cells: Sequence[ReportCell | PlanCell]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(c["scenario"], c["cell"]) for c in cells]
