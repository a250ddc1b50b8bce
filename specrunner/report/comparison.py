"""Two reports of one suite compared cell by cell: what regressed, what improved.

A cell is the same cell in both when its scenario's name and its matrix values are the
same (`cell_key`), whatever shard or order its runs came in. Its pass count is out of
the runs that reached a verdict: passed, failed and error (an error counts as not
passed, as the cell's rule counts it). Unknown runs and runs not run are left out: no one
knows what they would have done.

A cell of both reports with counted runs on both sides is tested: Fisher's exact test,
one-sided each way (`specrunner.significance`), and each way's p-values adjusted over
the tested cells by Benjamini-Hochberg. A cell regressed when its adjusted p-value of
"worse" is at most alpha, improved when that of "better" is; otherwise it is unchanged,
whatever its verdict did (the note says when its verdict flipped within chance).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from specrunner.errors import UsageError
from specrunner.report.build import cell_key
from specrunner.report.records import (
    ChangeStatus,
    ComparedCell,
    ComparedReport,
    ComparedSide,
    Comparison,
    ComparisonSummary,
    CountedOutcome,
    Report,
    ReportCell,
)
from specrunner.report.shards import partial_note
from specrunner.report.wording import expect_text, percent
from specrunner.significance import benjamini_hochberg, fisher_tails
from specrunner.suite.selection import parse_shard
from specrunner.text import counted, visible
from specrunner.version import __version__

COUNTED: Final[tuple[CountedOutcome, ...]] = ("passed", "failed", "error")
DEFAULT_ALPHA: Final = 0.05
MAX_ALPHA: Final = 0.5
STATUSES: Final[tuple[ChangeStatus, ...]] = (
    "regressed",
    "improved",
    "unchanged",
    "not_compared",
    "new",
    "removed",
)


def check_alpha(alpha: float) -> None:
    if not 0 < alpha <= MAX_ALPHA:
        raise UsageError(f"--alpha {alpha}: give a number above 0 and at most {MAX_ALPHA}")


def check_whole(report: Report, name: str, who: str) -> None:
    """Refuse the report of one shard of a plan: it holds only some runs of its cells."""
    text = report["selection"]["shard"]
    if text is None:
        return
    try:
        count = parse_shard(text)[1]
    except UsageError:
        count = 0
    if count != 1:
        raise UsageError(
            f"{who}: {name} is the report of shard {visible(text)} alone, which holds only "
            "some runs of its cells: merge the shards first (specrunner merge) and compare "
            "the merged report"
        )


def check_suite(base: Report, base_name: str, suite: str, new_name: str, who: str) -> None:
    name = base["suite"]["name"]
    if name != suite:
        raise UsageError(
            f"{who}: {base_name} is a report of suite {visible(repr(name))} and {new_name} "
            f"of suite {visible(repr(suite))}: compare two reports of one suite"
        )


def check_common(
    base: Report,
    base_name: str,
    cells: Sequence[tuple[str, Mapping[str, Any]]],
    other_name: str,
    who: str,
) -> None:
    """Refuse a baseline that has no cell among `cells` (the other side's, as scenario
    names and matrix values)."""
    keys = {cell_key(scenario, values) for scenario, values in cells}
    if any(cell_key(c["scenario"], c["cell"]) in keys for c in base["cells"]):
        return
    mine = _cells(len(base["cells"]), (c["scenario"] for c in base["cells"]))
    theirs = _cells(len(keys), (scenario for scenario, _ in cells))
    raise UsageError(
        f"{who}: {base_name} and {other_name} have no cell in common ({base_name}: {mine}; "
        f"{other_name}: {theirs}): compare reports of the same scenarios and matrix values"
    )


def _cells(count: int, scenarios: Iterable[str]) -> str:
    names = sorted(set(scenarios))
    shown = ", ".join(visible(repr(n)) for n in names[:3]) + (", ..." if len(names) > 3 else "")
    return counted(count, "cell") + (f" of {shown}" if names else "")


def compare_reports(
    base: Report,
    new: Report,
    *,
    base_file: str,
    new_file: str | None,
    alpha: float = DEFAULT_ALPHA,
) -> Comparison:
    """The comparison of `new` with `base` (checked to be of one suite by the caller)."""
    check_alpha(alpha)
    before = {cell_key(c["scenario"], c["cell"]): c for c in base["cells"]}
    now = {cell_key(c["scenario"], c["cell"]) for c in new["cells"]}
    cells: list[ComparedCell] = []
    for now_cell in new["cells"]:
        old = before.get(cell_key(now_cell["scenario"], now_cell["cell"]))
        cells.append(_cell(now_cell, _side(old) if old else None, _side(now_cell)))
    for key, old in before.items():
        if key not in now:
            cells.append(_cell(old, _side(old), None))
    tested = [c for c in cells if c["p_worse"] is not None and c["p_better"] is not None]
    q_worse = benjamini_hochberg([c["p_worse"] or 0.0 for c in tested])
    q_better = benjamini_hochberg([c["p_better"] or 0.0 for c in tested])
    for cell, worse, better in zip(tested, q_worse, q_better, strict=True):
        cell["q_worse"], cell["q_better"] = worse, better
        if worse <= alpha:
            cell["status"] = "regressed"
        elif better <= alpha:
            cell["status"] = "improved"
        cell["note"] = _note(cell, alpha)
    found = Counter(c["status"] for c in cells)
    summary: ComparisonSummary = {
        "regressed": found["regressed"],
        "improved": found["improved"],
        "unchanged": found["unchanged"],
        "not_compared": found["not_compared"],
        "new": found["new"],
        "removed": found["removed"],
        "tested": len(tested),
    }
    return {
        "comparison_version": 1,
        "specrunner": __version__,
        "suite": new["suite"]["name"],
        "base": _named(base, base_file),
        "new": _named(new, new_file),
        "method": {
            "test": "fisher_exact_one_sided",
            "adjustment": "benjamini_hochberg",
            "alpha": alpha,
            "counted": list(COUNTED),
        },
        "summary": summary,
        "notes": _notes(base, base_file, new, new_file or "this run", cells),
        "cells": cells,
    }


def _side(cell: ReportCell) -> ComparedSide:
    outcomes = cell["outcomes"]
    counted = sum(outcomes[name] for name in COUNTED)
    return {
        "passed": outcomes["passed"],
        "counted": counted,
        "left_out": cell["runs"] - counted,
        "pass_rate": outcomes["passed"] / counted if counted else None,
        "met": cell["met"],
        "expect": cell["expect"].copy(),
    }


def _cell(cell: ReportCell, base: ComparedSide | None, new: ComparedSide | None) -> ComparedCell:
    status: ChangeStatus = "new" if base is None else "removed" if new is None else "unchanged"
    compared: ComparedCell = {
        "id": cell["id"],
        "scenario": cell["scenario"],
        "cell": dict(cell["cell"]),
        "label": cell["label"],
        "status": status,
        "base": base,
        "new": new,
        "change": None,
        "p_worse": None,
        "p_better": None,
        "q_worse": None,
        "q_better": None,
        "note": None,
    }
    if base is None or new is None:
        return compared
    if base["pass_rate"] is not None and new["pass_rate"] is not None:
        compared["change"] = new["pass_rate"] - base["pass_rate"]
        tails = fisher_tails(base["passed"], base["counted"], new["passed"], new["counted"])
        compared["p_worse"], compared["p_better"] = float(tails.worse), float(tails.better)
    else:
        compared["status"] = "not_compared"
        side = "the baseline" if base["pass_rate"] is None else "the new report"
        compared["note"] = (
            f"no run of it reached a verdict in {side} (its runs are unknown or not run)"
        )
    return compared


def _note(cell: ComparedCell, alpha: float) -> str | None:
    """What a reader of a tested cell's verdicts might get wrong, in a sentence."""
    base, new = cell["base"], cell["new"]
    assert base is not None and new is not None
    counts = f"{counts_text(new)} against {counts_text(base)}"
    parts: list[str] = []
    if cell["status"] == "unchanged" and base["met"] != new["met"]:
        q = cell["q_worse"] if base["met"] else cell["q_better"]
        flipped = (
            "met its rule in the baseline and not now"
            if base["met"]
            else "met its rule now and not in the baseline"
        )
        parts.append(f"{flipped}, but {counts} is within chance (q = {p_text(q)}, above {alpha:g})")
    elif cell["status"] == "regressed" and new["met"]:
        parts.append(f"still meets its rule, but {counts} is a significant drop")
    elif cell["status"] == "improved" and not new["met"]:
        parts.append(f"still fails its rule, but {counts} is a significant rise")
    if base["expect"] != new["expect"]:
        parts.append(
            f"its rule changed from {expect_text(base['expect'])} to {expect_text(new['expect'])}"
        )
    return "; ".join(parts) or None


def _named(report: Report, file: str | None) -> ComparedReport:
    return {
        "file": file,
        "suite_version": report["suite"]["version"],
        "environment": report["environment"],
        "git_commit": report["git"]["commit"],
        "finished_at": report["finished_at"],
        "passed": report["verdict"]["passed"],
        "stopped": report.get("stopped"),
        "cells": len(report["cells"]),
    }


def _notes(
    base: Report, base_name: str, new: Report, new_name: str, cells: Sequence[ComparedCell]
) -> list[str]:
    """What differs between the two reports besides their cells, and what was left out."""
    notes: list[str] = []
    versions = base["suite"]["version"], new["suite"]["version"]
    if versions[0] != versions[1]:
        notes.append(
            f"the suite's version is {versions[0]} in {base_name} and {versions[1]} in {new_name}"
        )
    if base["environment"] != new["environment"]:
        notes.append(f"{base_name} ran in environment {_env(base)} and {new_name} in {_env(new)}")
    if _selection(base) != _selection(new):
        notes.append(
            "the two were selected differently (--tag, --scenario or --set): a cell outside "
            "one selection shows as new or removed"
        )
    for report, name in ((base, base_name), (new, new_name)):
        if report.get("stopped"):
            notes.append(f"{name} stopped early ({report.get('stopped')}): its results are partial")
        missing = partial_note(report)
        if missing is not None:
            notes.append(f"{name} is a partial merge: {missing}")
    left_out = sum(
        side["left_out"] for c in cells for side in (c["base"], c["new"]) if side is not None
    )
    if left_out:
        notes.append(
            f"{counted(left_out, 'run')} without a verdict (unknown or not run) left out of "
            "the counts"
        )
    return [visible(note) for note in notes]


def _env(report: Report) -> str:
    environment = report["environment"]
    return repr(environment) if environment is not None else "none"


def _selection(report: Report) -> Mapping[str, object]:
    return {k: v for k, v in report["selection"].items() if k not in ("shard", "environment")}


def counts_text(side: ComparedSide) -> str:
    """`9/10`: passes of the counted runs."""
    return f"{side['passed']}/{side['counted']}"


def p_text(value: float | None) -> str:
    """A p-value in a few characters: `0.031`, `0.0004`, `5.4e-06`, `1`."""
    if value is None:
        return "-"
    if value >= 0.9995:
        return "1"
    if value >= 0.001:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if value >= 0.0001:
        return f"{value:.4f}"
    return f"{value:.1e}"


def change_text(change: float | None) -> str:
    """A change of pass rate in points: `-80 pts`, `+12.5 pts`, `0 pts`."""
    if change is None:
        return "-"
    points = percent(abs(change)).removesuffix("%")
    sign = "" if points == "0" else "+" if change > 0 else "-"
    return f"{sign}{points} pts"


def status_count(summary: ComparisonSummary, status: ChangeStatus) -> int:
    """How many cells the summary counts of `status`."""
    counts = {
        "regressed": summary["regressed"],
        "improved": summary["improved"],
        "unchanged": summary["unchanged"],
        "not_compared": summary["not_compared"],
        "new": summary["new"],
        "removed": summary["removed"],
    }
    return counts[status]


def summary_counts(summary: ComparisonSummary) -> list[tuple[str, int]]:
    """The counts a view shows, as `(words, count)`: regressed, improved and unchanged
    always, the others when there are some."""
    return [
        (status.replace("_", " "), status_count(summary, status))
        for status in STATUSES
        if status in ("regressed", "improved", "unchanged") or status_count(summary, status)
    ]


def regressed(comparison: Comparison | None) -> bool:
    """Whether a comparison found a cell that regressed significantly."""
    return comparison is not None and comparison["summary"]["regressed"] > 0
