"""The Markdown view of a report: a short summary for a pull-request comment or a GitHub
Actions job summary.

It shows what needs a look (failing cells, then flaky ones, then runs that errored) and
leaves the rest to the HTML report. Lengths are capped so that a huge suite still fits in
a comment. Everything that comes from the suite or from Cekura is escaped: it cannot break
the table, start a code span, inject HTML or mention someone, and its control and bidi
characters are shown as escapes (`one_line`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from specrunner.report.build import cell_id
from specrunner.report.comparison import regressed
from specrunner.report.comparison_markdown import comparison_section
from specrunner.report.records import Report, ReportCell, ReportRun
from specrunner.report.shards import partial_note
from specrunner.report.wording import expect_text, md, outcome_counts, percent, run_reason

MAX_CELL_ROWS = 50
MAX_RUN_LINES = 20
MAX_REASON = 200
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"

_NOT_PASSED = ("error", "unknown", "not_run")


def render_markdown(report: Report) -> str:
    lines = [_title(report), "", _counts(report), ""]
    if report.get("stopped"):
        lines += [f"**Partial results:** the run stopped early ({md(report.get('stopped'))}).", ""]
    missing = partial_note(report)
    if missing is not None:
        lines += [f"**Partial merge:** {md(missing)}.", ""]
    comparison = report.get("comparison")
    if comparison is not None:
        lines += comparison_section(comparison)
    cells = report["cells"]
    listed = [c for c in cells if not c["met"]] + [c for c in cells if c["met"] and c["flaky"]]
    if not cells:
        lines += ["No cells were run.", ""]
    elif not listed:
        lines += [f"Every cell ({len(cells)}) met its expect rule; none was flaky.", ""]
    else:
        lines += _cell_table(listed[:MAX_CELL_ROWS])
        if len(listed) > MAX_CELL_ROWS:
            lines.append(f"… and {len(listed) - MAX_CELL_ROWS} more failing or flaky cells.")
        lines.append("")
    troubled = [run for run in report["runs"] if run["outcome"] in _NOT_PASSED]
    if troubled:
        lines += [f"**Runs without a verdict from Cekura** ({len(troubled)})", ""]
        lines += [_run_item(run) for run in troubled[:MAX_RUN_LINES]]
        if len(troubled) > MAX_RUN_LINES:
            lines.append(f"- … and {len(troubled) - MAX_RUN_LINES} more")
        lines.append("")
    lines.append(_footer(report))
    return "\n".join(lines) + "\n"


def append_step_summary(report: Report, environ: Mapping[str, str]) -> Path | None:
    """Append the summary to the GitHub Actions job summary, when there is one.

    Earlier steps (or an earlier report in this step) may have written to the file: it is
    appended to, never replaced.
    """
    if not environ.get(STEP_SUMMARY):
        return None
    return append_to_step_summary(render_markdown(report), environ)


def append_to_step_summary(text: str, environ: Mapping[str, str]) -> Path | None:
    """Append Markdown `text` to the GitHub Actions job summary, when there is one."""
    name = environ.get(STEP_SUMMARY)
    if not name:
        return None
    path = Path(name)
    with path.open("a+b") as file:
        if file.seek(0, os.SEEK_END) > 0:
            file.seek(-1, os.SEEK_END)
            # A blank line, so the title does not join what the file ends with.
            text = ("\n" if file.read(1) == b"\n" else "\n\n") + text
        file.write(text.encode("utf-8"))
    return path


def _title(report: Report) -> str:
    passed = report["verdict"]["passed"]
    environment = report["environment"]
    where = f" ({md(environment)})" if environment else ""
    mark, word = ("✅", "passed") if passed else ("❌", "failed")
    if passed and regressed(report.get("comparison")):
        mark, word = "❌", "regressed against the baseline"
    return f"## {mark} {md(report['suite']['name'])}{where} {word}"


def _counts(report: Report) -> str:
    verdict = report["verdict"]
    parts = [
        outcome_counts(verdict["runs"], verdict["outcomes"]),
        f"{verdict['cells_passed']}/{verdict['cells']} cells met"
        + (f" ({verdict['flaky_cells']} flaky)" if verdict["flaky_cells"] else ""),
        f"pass rate {percent(verdict['pass_rate'])}",
    ]
    durations = verdict["duration_seconds"]
    if durations["median"] is not None:
        parts.append(
            f"call duration median {durations['median']:.1f} s, p95 {durations['p95']:.1f} s"
        )
    return " · ".join(parts)


def _cell_table(cells: Sequence[ReportCell]) -> list[str]:
    lines = [
        "| Verdict | Scenario | Cell | Passed | Pass rate (95% CI) | Expect | Flaky |",
        "| --- | --- | --- | ---: | ---: | --- | --- |",
    ]
    for cell in cells:
        label = "" if cell["label"] == "-" else md(cell["label"])
        rate = percent(cell["pass_rate"])
        if cell["wilson"] is not None:
            low, high = cell["wilson"]
            rate += f" ({percent(low).removesuffix('%')}–{percent(high)})"
        row = [
            "✅ met" if cell["met"] else "❌ failed",
            md(cell["scenario"]),
            label,
            f"{cell['outcomes']['passed']}/{cell['runs']}" + _sent(cell),
            rate,
            expect_text(cell["expect"]),
            "yes" if cell["flaky"] else "",
        ]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _sent(cell: ReportCell) -> str:
    """`, 4 of 20 sent` for a sequential cell; nothing for another."""
    sequence = cell.get("sequential")
    return "" if sequence is None else f", {sequence['sent']} of {sequence['max']} sent"


def _run_item(run: ReportRun) -> str:
    reason = run_reason(run)
    name = md(cell_id(run["scenario"], run["cell"]))
    outcome = run["outcome"].replace("_", " ")
    item = f"- {outcome}: {name}, repeat {run['repeat']}"
    return item + (f": {md(reason, MAX_REASON)}" if reason else "")


def _footer(report: Report) -> str:
    parts = [f"specrunner {md(report['specrunner'])}", f"finished {md(report['finished_at'])}"]
    if report["git"]["commit"]:
        parts.append(f"commit {md(report['git']['commit'][:12])}")
    if report["selection"]["shard"]:
        parts.append(f"shard {md(report['selection']['shard'])}")
    return "<sub>" + ", ".join(parts) + "</sub>"
