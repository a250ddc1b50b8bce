"""Reports: a run's JSON report written where it was asked for, `specrunner report` (render
a saved report again) and `specrunner merge` (join the reports of a plan's shards)."""

from __future__ import annotations

import gc
import os
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from specrunner.app.clock import now_iso
from specrunner.app.comparing import Baseline, baseline_for_reports, read
from specrunner.errors import ExitCode
from specrunner.masking import Secrets
from specrunner.models import Plan, RunRecord
from specrunner.report.build import build_report
from specrunner.report.charts import Trend
from specrunner.report.comparison import DEFAULT_ALPHA, regressed
from specrunner.report.comparison_console import comparison_lines
from specrunner.report.json_text import ItemsJson
from specrunner.report.markdown import append_step_summary
from specrunner.report.records import Report
from specrunner.report.saved import merge_reports
from specrunner.report.shards import partial_note
from specrunner.report.write import check_outputs, write_reports, wrote_lines
from specrunner.text import visible


def write_run_report(
    plan: Plan,
    records: Sequence[RunRecord],
    *,
    secrets: Secrets,
    outputs: Sequence[Path],
    started_at: str | None,
    run_dir: Path | None,
    workdir: Path,
    stopped: str | None = None,
    baseline: Baseline | None = None,
    trend: TrendOf | None = None,
) -> Report:
    """The run's JSON report (compared with `baseline`, when given), written to each of
    `outputs` in the format it names; `trend` (when given) records it in the history and
    gives the history its charts draw."""
    with _collector_paused():
        built = build_report(
            plan,
            records,
            secrets=secrets,
            started_at=started_at,
            finished_at=now_iso(),
            run_dir=str(run_dir) if run_dir is not None else None,
            git_commit=git_commit(workdir),
            stopped=stopped,
        )
        report = built.report
        if baseline is not None:
            report["comparison"] = baseline.compare(report)
        drawn = trend(report, built.runs_json) if trend is not None else None
        write_reports(report, outputs, trend=drawn, runs=built.runs_json)
    return report


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a report is made, or read and rendered again
    (`report`, `merge`). A report of 10,000 runs is a hundred thousand new containers,
    none in a cycle: the collections they set off walk every object of the process (the
    plan, the run records) and free nothing, a quarter of the CPU of making the report
    and an eighth of reading one. Reference counting frees what the report drops.

    When done, every tracked object is moved to the oldest generation (`gc.freeze`, then
    `gc.unfreeze`), so that the report's objects are not all walked at once by the first
    young collection after; left alone when something else froze objects (a server that
    forks), whose frozen objects must stay so."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


def git_commit(folder: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The commit checked out in `folder`; else the one CI names ($GITHUB_SHA,
    $CI_COMMIT_SHA), for a runner without git; else None."""
    found = _checked_out(folder)
    if found is not None:
        return found
    named = environ if environ is not None else os.environ
    for variable in ("GITHUB_SHA", "CI_COMMIT_SHA"):
        value = named.get(variable, "").strip().lower()
        if len(value) == 40 and all(c in "0123456789abcdef" for c in value):
            return value
    return None


def _checked_out(folder: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def step_summary(report: Report, environ: Mapping[str, str]) -> list[str]:
    """Append the Markdown summary to $GITHUB_STEP_SUMMARY when it is set; its path."""
    path = append_step_summary(report, environ)
    return [str(path)] if path is not None else []


@dataclass(frozen=True, slots=True)
class Rendered:
    """What `specrunner report` or `specrunner merge` made: the report, and where it went."""

    report: Report
    written: tuple[str, ...]
    """Each file written, in the order given."""
    step_summary: bool
    """The Markdown summary was appended to $GITHUB_STEP_SUMMARY."""

    @property
    def exit_code(self) -> int:
        """0 when every cell met its rule and none regressed against the baseline; else 1."""
        return verdict_code(self.report)

    def lines(self) -> list[str]:
        return wrote_lines(self.written, step_summary=self.step_summary)


def verdict_code(report: Report) -> int:
    """1 when a cell did not meet its rule or regressed against the baseline; else 0."""
    if not report["verdict"]["passed"] or regressed(report.get("comparison")):
        return ExitCode.EXPECTATIONS_NOT_MET
    return ExitCode.OK


TrendOf = Callable[[Report, ItemsJson | None], Trend | None]
"""What gives a report's charts their history (and may record the report in it), given the
report and, when it was just made, the texts its runs were written out as."""


def render_saved(path: str, outputs: Sequence[str], *, trend: TrendOf | None = None) -> Rendered:
    """`specrunner report`: re-render a saved JSON report; the exit code is its verdict's
    (and, when it was compared with a baseline, 1 on a regression)."""
    check_outputs(outputs)
    # A saved report may hold a NaN (JSON files written elsewhere): it is written as null.
    with _collector_paused():  # reading 10,000 runs makes no cycle (see there)
        return _written(read(path), outputs, trend)


def merge(
    paths: Sequence[str],
    outputs: Sequence[str],
    *,
    allow_partial: bool = False,
    baseline: str | None = None,
    alpha: float = DEFAULT_ALPHA,
    trend: TrendOf | None = None,
) -> Rendered:
    """`specrunner merge`: join the reports of a plan's shards and judge the cells again;
    with `baseline`, compare the merged report with it; `trend` records the merged report
    in the history."""
    check_outputs(outputs)
    with _collector_paused():
        shards = [read(p) for p in paths]
        against = baseline_for_reports(baseline, shards, paths, alpha=alpha) if baseline else None
        merged = merge_reports(shards, list(paths), allow_partial=allow_partial)
        if against is not None:
            merged["comparison"] = against.compare(merged)
        return _written(merged, outputs, trend)


def _written(report: Report, outputs: Sequence[str], trend: TrendOf | None) -> Rendered:
    drawn = trend(report, None) if trend is not None else None
    write_reports(report, [Path(o) for o in outputs], trend=drawn)
    appended = bool(step_summary(report, os.environ))
    return Rendered(report, tuple(outputs), appended)


def merge_lines(report: Report) -> list[str]:
    """What `specrunner merge` says of the merged report: the shards it joined, its
    verdict, and (for a partial merge) what is missing."""
    verdict = report["verdict"]
    plan = report.get("plan")
    merged = list(plan.get("merged", [])) if plan is not None else []
    if merged == ["1/1"]:
        joined = "the whole plan"
    elif len(merged) == 1:
        joined = f"shard {merged[0]}"
    else:
        joined = f"shards {', '.join(merged[:-1])} and {merged[-1]}"
    lines = [
        f"merged {joined} of {visible(report['suite']['name'])}: {verdict['runs']} runs, "
        f"{verdict['cells_passed']}/{verdict['cells']} cells met"
    ]
    partial = partial_note(report)
    if partial is not None:
        lines.append(f"partial: {partial}")
    if report.get("stopped"):
        lines.append(f"stopped early: {visible(str(report.get('stopped')))}")
    comparison = report.get("comparison")
    if comparison is not None:
        lines += ["", *comparison_lines(comparison, of_run=True), ""]
    return lines
