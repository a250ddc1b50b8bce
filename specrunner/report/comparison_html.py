"""A comparison as one self-contained page (`specrunner compare -o diff.html`).

Static markup and one style sheet, no script: the regressed cells, the improved ones and
the other changes in tables (cards on a phone), the unchanged cells folded. Everything
from the reports is escaped by Jinja, its bidi controls shown as escapes (`visible`), and
the Content Security Policy is the report's (`html.policy`), without a script to allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jinja2
from markupsafe import Markup

from specrunner.report.comparison import (
    STATUSES,
    change_text,
    counts_text,
    p_text,
    status_count,
)
from specrunner.report.comparison_console import listed, method_line, shown_q
from specrunner.report.html import asset, page_template, policy, timestamp
from specrunner.report.records import ComparedCell, ComparedReport, ComparedSide, Comparison
from specrunner.report.wording import percent
from specrunner.text import visible
from specrunner.version import __version__


@dataclass(frozen=True, slots=True)
class Group:
    key: str
    title: str
    cells: list[dict[str, str]]
    folded: bool = False
    mixed: bool = False
    """Its cells are of several kinds: each row says its own."""


def render_comparison_html(comparison: Comparison) -> str:
    template, styles = _assets()
    summary = comparison["summary"]
    regressed = summary["regressed"] > 0
    return template.render(
        csp=policy(styles, None),
        styles=[Markup(css) for css in styles],
        version=comparison["specrunner"] or __version__,
        word="REGRESSED" if regressed else "NO REGRESSION",
        regressed=regressed,
        suite=visible(comparison["suite"]),
        counts=[(name, status_count(summary, name)) for name in STATUSES],
        sides=[
            ("Baseline", _report_text(comparison["base"])),
            ("Now", _report_text(comparison["new"])),
        ],
        notes=[visible(note) for note in comparison["notes"]],
        groups=_groups(comparison["cells"]),
        method=method_line(comparison),
    )


def _groups(cells: list[ComparedCell]) -> list[Group]:
    groups = []
    for status, title in (("regressed", "Regressed"), ("improved", "Improved")):
        chosen = [c for c in cells if c["status"] == status]
        if chosen:
            groups.append(Group(status, title, [_row(c) for c in chosen]))
    others = [c for c in listed(cells) if c["status"] not in ("regressed", "improved")]
    if others:
        groups.append(
            Group(
                "other",
                "Other changes: not significant, not compared, new or removed",
                [_row(c) for c in others],
                mixed=True,
            )
        )
    quiet = [c for c in cells if c["status"] == "unchanged" and not c["note"]]
    if quiet:
        groups.append(Group("unchanged", "Unchanged", [_row(c) for c in quiet], folded=True))
    return groups


def _row(cell: ComparedCell) -> dict[str, str]:
    q = shown_q(cell)
    return {
        "status": cell["status"],
        "scenario": visible(cell["scenario"]),
        "label": "" if cell["label"] == "-" else visible(cell["label"]),
        "base": _counts(cell["base"]),
        "base_rate": _rate(cell["base"]),
        "new": _counts(cell["new"]),
        "new_rate": _rate(cell["new"]),
        "change": change_text(cell["change"]) if cell["change"] is not None else "",
        "q": p_text(q) if q is not None else "",
        "note": visible(cell["note"] or ""),
    }


def _counts(side: ComparedSide | None) -> str:
    return counts_text(side) if side is not None else "—"


def _rate(side: ComparedSide | None) -> str:
    return percent(side["pass_rate"]) if side is not None else ""


def _report_text(report: ComparedReport) -> str:
    parts = [report["file"] or "this run", timestamp(report["finished_at"])]
    if report["git_commit"]:
        parts.append(f"commit {report['git_commit'][:12]}")
    if report["environment"]:
        parts.append(f"environment {report['environment']}")
    parts.append("passed" if report["passed"] else "failed")
    return visible(", ".join(parts))


@cache
def _assets() -> tuple[jinja2.Template, tuple[str, ...]]:
    """The template and its styles: the report's (its palette, summary, tables and badges)
    and the comparison's own."""
    return page_template("comparison.html.j2"), (asset("report.css"), asset("comparison.css"))
