"""What the HTML report shows of a comparison with a baseline (`run --baseline`): a line in
its summary, the cells the baseline had and this run has not, and each cell's change for
the table (a badge, the counts and the adjusted p-value, a rank to sort on)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specrunner.report.build import cell_key
from specrunner.report.comparison import (
    STATUSES,
    change_text,
    counts_text,
    p_text,
    summary_counts,
)
from specrunner.report.comparison_console import shown_q
from specrunner.report.records import ComparedCell, Comparison

MAX_REMOVED = 10


def comparison_facts(comparison: Comparison) -> list[tuple[str, str]]:
    """The summary's lines of the comparison: its counts against which baseline, and the
    cells it lacks."""
    counts = [f"{n} {words}" for words, n in summary_counts(comparison["summary"])]
    base = comparison["base"]
    name = base["file"] or "the baseline"
    commit = f", commit {base['git_commit'][:12]}" if base["git_commit"] else ""
    facts = [
        (
            "Against the baseline",
            f"{', '.join(counts)} (α {comparison['method']['alpha']:g}; {name}{commit})",
        )
    ]
    removed = [c["id"] for c in comparison["cells"] if c["status"] == "removed"]
    if removed:
        shown = ", ".join(removed[:MAX_REMOVED])
        more = f" and {len(removed) - MAX_REMOVED} more" if len(removed) > MAX_REMOVED else ""
        facts.append(("In the baseline, not in this run", shown + more))
    return facts


def changes_by_cell(comparison: Comparison | None) -> dict[str, ComparedCell] | None:
    """The comparison's cells by `cell_key`; None without a comparison."""
    if comparison is None:
        return None
    return {cell_key(c["scenario"], c["cell"]): c for c in comparison["cells"]}


def change_data(cell: ComparedCell | None) -> Mapping[str, Any]:
    """A cell's change, for the page's script: a rank to sort on (regressed first), a
    status, and text."""
    if cell is None:  # a report edited by hand: its comparison lacks one of its cells
        return {"change": len(STATUSES), "change_status": "", "change_text": ""}
    base, new = cell["base"], cell["new"]
    text = ""
    if base is not None and new is not None:
        text = f"{counts_text(base)} → {counts_text(new)}"
        if cell["change"] is not None:
            q = shown_q(cell)
            text += f" ({change_text(cell['change'])}, q {p_text(q)})"
    return {
        "change": STATUSES.index(cell["status"]),
        "change_status": cell["status"],
        "change_text": text,
        "change_note": cell["note"] or "",
    }
