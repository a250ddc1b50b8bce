"""A comparison in Markdown, for a pull-request comment: short, the regressions first.

The regressed cells come as a table at the top, then the improved ones; the other
changes (a verdict that flipped within chance, cells not compared, new or removed) are
folded in a `<details>` block. Unchanged cells are only counted. Text from the reports
is escaped as the report's Markdown escapes it (`md`). The first line is an HTML comment
that a CI step can look for to update its comment rather than add one.
"""

from __future__ import annotations

from collections.abc import Sequence

from specrunner.report.comparison import change_text, counts_text, p_text, summary_counts
from specrunner.report.comparison_console import listed, method_line, shown_q
from specrunner.report.records import ComparedCell, ComparedReport, ComparedSide, Comparison
from specrunner.report.wording import md, percent
from specrunner.text import counted

MARKER = "<!-- specrunner-compare -->"
MAX_ROWS = 50


def render_comparison_markdown(comparison: Comparison) -> str:
    """The whole comment (`specrunner compare -o diff.md`)."""
    summary = comparison["summary"]
    regressed = summary["regressed"]
    if regressed:
        title = f"## ❌ {md(comparison['suite'])}: {counted(regressed, 'cell')} regressed"
    else:
        title = f"## ✅ {md(comparison['suite'])}: no regression"
    lines = [MARKER, title, "", _counts(comparison), "", _sides(comparison), ""]
    lines += _body(comparison)
    lines.append(
        f"<sub>{md(method_line(comparison), 400)} specrunner {md(comparison['specrunner'])}</sub>"
    )
    return "\n".join(lines) + "\n"


def comparison_section(comparison: Comparison) -> list[str]:
    """The section of a run's Markdown summary made with --baseline."""
    base = comparison["base"]
    name = md(base["file"]) if base["file"] else "the baseline"
    lines = [f"### Against the baseline {name}", "", _counts(comparison), ""]
    lines += _body(comparison)
    lines += [f"<sub>{md(method_line(comparison), 400)}</sub>", ""]
    return lines


def _body(comparison: Comparison) -> list[str]:
    cells = comparison["cells"]
    lines: list[str] = []
    for status, heading in (("regressed", "Regressed"), ("improved", "Improved")):
        chosen = [c for c in cells if c["status"] == status]
        if chosen:
            lines += [f"**{heading}** ({len(chosen)})", ""]
            lines += _table(chosen, notes=any(c["note"] for c in chosen))
            lines.append("")
    others = [c for c in listed(cells) if c["status"] not in ("regressed", "improved")]
    if others:
        lines += [
            f"<details><summary>Other changes ({len(others)}): not significant, not "
            "compared, new or removed</summary>",
            "",
        ]
        lines += _table(others, notes=True, status=True)
        lines += ["", "</details>", ""]
    if comparison["notes"]:
        lines += [f"- {md(note, 300)}" for note in comparison["notes"]]
        lines.append("")
    return lines


def _table(cells: Sequence[ComparedCell], *, notes: bool, status: bool = False) -> list[str]:
    head = ["Scenario", "Cell", "Baseline", "Now", "Change", "q"]
    align = ["---", "---", "---:", "---:", "---:", "---:"]
    if status:
        head, align = ["Status", *head], ["---", *align]
    if notes:
        head, align = [*head, "Note"], [*align, "---"]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    for cell in cells[:MAX_ROWS]:
        base, new = cell["base"], cell["new"]
        q = shown_q(cell)
        row = [
            md(cell["scenario"]),
            "" if cell["label"] == "-" else md(cell["label"]),
            _side(base),
            _side(new),
            change_text(cell["change"]) if cell["change"] is not None else "",
            p_text(q) if q is not None else "",
        ]
        if status:
            row.insert(0, cell["status"].replace("_", " "))
        if notes:
            row.append(md(cell["note"], 200) if cell["note"] else "")
        lines.append("| " + " | ".join(row) + " |")
    if len(cells) > MAX_ROWS:
        lines.append("")
        lines.append(f"… and {len(cells) - MAX_ROWS} more.")
    return lines


def _side(side: ComparedSide | None) -> str:
    if side is None:
        return "—"
    return f"{counts_text(side)} ({percent(side['pass_rate'])})"


def _counts(comparison: Comparison) -> str:
    parts = [
        f"**{n} {words}**" if words == "regressed" and n else f"{n} {words}"
        for words, n in summary_counts(comparison["summary"])
    ]
    return " · ".join(parts) + f" (α = {comparison['method']['alpha']:g})"


def _sides(comparison: Comparison) -> str:
    return f"Baseline {_report(comparison['base'])} → now {_report(comparison['new'])}"


def _report(report: ComparedReport) -> str:
    name = md(report["file"]) if report["file"] else "this run"
    facts = []
    if report["git_commit"]:
        facts.append(f"commit {md(report['git_commit'][:12])}")
    facts.append(md(report["finished_at"]))
    if report["environment"]:
        facts.append(md(report["environment"]))
    return f"{name} ({', '.join(facts)})"
