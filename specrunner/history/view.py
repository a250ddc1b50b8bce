"""`specrunner history` as text or JSON: the window's runs, each cell's pass rate over them,
and the cells that flip between met and not met."""

from __future__ import annotations

import json
from typing import Any

from specrunner.history.store import Recorded
from specrunner.history.trends import CellTrend, SuiteHistory
from specrunner.text import counted, visible, visible_in_json

MET, NOT_MET, ABSENT = "✓", "✗", "·"
RUN_HEADINGS = ("finished", "commit", "verdict", "cells met", "pass rate", "runs")
CELL_HEADINGS = ("cell", "pass rate", "met", "verdict per run (most recent first)")


def history_text(history: SuiteHistory, recorded: int) -> str:
    """The history for a person: runs, then cells, then what flipped."""
    where = f"environment {history.environment}" if history.environment else "no environment"
    window = len(history.reports)
    lines = [
        f"{visible(history.suite)} ({visible(where)}): the last {counted(window, 'run')} of "
        f"{recorded} recorded, most recent first",
        "",
    ]
    rows: list[tuple[str, ...]] = [
        ("finished", "commit", "verdict", "cells met", "pass rate", "runs")
    ]
    rows += [_run_row(r) for r in history.reports]
    lines += _table(rows, right={3, 4, 5})
    lines.append("")
    cell_rows: list[tuple[str, ...]] = [
        ("cell", "pass rate", "met", "verdict per run (most recent first)")
    ]
    cell_rows += [_cell_row(cell) for cell in history.cells]
    lines += _table(cell_rows, right={1, 2})
    lines.append("")
    flaky = history.flaky_across_runs
    if flaky:
        lines.append(f"flaky across runs (met and not met in turn): {counted(len(flaky), 'cell')}")
        lines += [
            f"  {visible(c.cell)}: {c.flips} changes of verdict in "
            f"{counted(len(c.recorded), 'run')}"
            for c in flaky
        ]
    else:
        lines.append("flaky across runs: none (no cell was met and not met in turn)")
    changed = history.changed
    if changed:
        lines.append(f"changed once in these runs: {counted(len(changed), 'cell')}")
        lines += [f"  {visible(c.cell)}: {_change(c, history.reports)}" for c in changed]
    return "\n".join(lines) + "\n"


def history_json(history: SuiteHistory, recorded: int) -> str:
    document: dict[str, Any] = {
        "suite": history.suite,
        "environment": history.environment,
        "recorded": recorded,
        "runs": [_run_json(r) for r in history.reports],
        "cells": [_cell_json(cell) for cell in history.cells],
        "flaky_across_runs": [cell.cell for cell in history.flaky_across_runs],
    }
    return visible_in_json(_laid_out(document)) + "\n"


def _laid_out(document: dict[str, Any]) -> str:
    """JSON with a member per line and each run or cell on a line of its own: a long
    window is 100,000 values, which json's indenting (pure Python) takes seconds over."""
    members = []
    for key, value in document.items():
        name = json.dumps(key)
        if isinstance(value, list) and value:
            items = ",\n".join(f"    {_compact(item)}" for item in value)
            members.append(f"  {name}: [\n{items}\n  ]")
        else:
            members.append(f"  {name}: {_compact(value)}")
    return "{\n" + ",\n".join(members) + "\n}"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _run_row(recorded: Recorded) -> tuple[str, ...]:
    entry = recorded.entry
    return (
        _when(entry.finished_at),
        (entry.git_commit or "—")[:12],
        "passed" if entry.passed else "FAILED",
        f"{entry.cells_passed}/{len(entry.cells)}",
        _percent(entry.pass_rate),
        str(entry.runs),
    )


def _cell_row(cell: CellTrend) -> tuple[str, ...]:
    marks = "".join(ABSENT if p is None else MET if p.met else NOT_MET for p in cell.points)
    if cell.flaky_across_runs:
        marks += "  flaky across runs"
    return (
        visible(cell.cell),
        _percent(cell.pass_rate),
        f"{cell.met}/{len(cell.recorded)}",
        marks,
    )


def _change(cell: CellTrend, reports: tuple[Recorded, ...]) -> str:
    """`not met since <run>` or `met again since <run>`: the first run of the new verdict."""
    since = 0
    for i, point in enumerate(cell.points):
        if point is None:
            continue
        if point.met != cell.recorded[0].met:
            break
        since = i
    entry = reports[since].entry
    commit = f", commit {entry.git_commit[:12]}" if entry.git_commit else ""
    state = "met again" if cell.recorded[0].met else "not met"
    return f"{state} since the run finished {_when(entry.finished_at)}{commit}"


def _run_json(recorded: Recorded) -> dict[str, Any]:
    entry = recorded.entry
    return {
        "id": entry.id,
        "source": recorded.source.value,
        "recorded_at": recorded.recorded_at,
        "started_at": entry.started_at,
        "finished_at": entry.finished_at,
        "git_commit": entry.git_commit,
        "suite_version": entry.suite_version,
        "selection": json.loads(entry.selection),
        "passed": entry.passed,
        "cells": len(entry.cells),
        "cells_passed": entry.cells_passed,
        "flaky_cells": entry.flaky_cells,
        "runs": entry.runs,
        "pass_rate": entry.pass_rate,
        "duration_seconds": {"median": entry.duration_median, "p95": entry.duration_p95},
    }


def _cell_json(cell: CellTrend) -> dict[str, Any]:
    return {
        "id": cell.cell,
        "scenario": cell.scenario,
        "label": cell.label,
        "runs": cell.runs,
        "passes": cell.passes,
        "pass_rate": cell.pass_rate,
        "met": cell.met,
        "recorded": len(cell.recorded),
        "flips": cell.flips,
        "flaky_across_runs": cell.flaky_across_runs,
        # In the order of the document's `runs`; null where a run did not have the cell.
        "per_run": [
            None
            if p is None
            else {"runs": p.runs, "passes": p.outcomes[0], "pass_rate": p.pass_rate, "met": p.met}
            for p in cell.points
        ],
    }


def _table(rows: list[tuple[str, ...]], *, right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        parts = [
            text.rjust(width) if i in right else text.ljust(width)
            for i, (text, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  " + "  ".join(parts).rstrip())
    return lines


def _when(value: str | None) -> str:
    """ISO 8601 UTC as `YYYY-MM-DD HH:MM UTC`; anything else as given."""
    if not value:
        return "—"
    if len(value) >= 17 and value[10] == "T" and value.endswith("Z"):
        return f"{value[:10]} {value[11:19]} UTC"
    return visible(value)


def _percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}".removesuffix(".0") + "%"
