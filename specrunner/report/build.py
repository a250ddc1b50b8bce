"""Build the JSON report, the canonical record of a run, and judge its cells.

Everything here works on JSON-shaped data (schemas/report.v1.json), so that `specrunner
report` and `specrunner merge` can judge saved reports exactly as a run judges its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from specrunner.judge import CellCounts, Rule, count, mean_scores, percentile, wilson
from specrunner.masking import MASK, Secrets
from specrunner.models import Plan, RunRecord
from specrunner.report.cekura_details import cekura_details

# Re-exported: the HTML report reads it here.
from specrunner.report.cekura_details import finite_number as finite_number
from specrunner.report.json_text import ItemsJson, item_json
from specrunner.report.planned import fingerprint, plan_cells, plan_record
from specrunner.report.records import (
    CellMeta,
    OutcomeCounts,
    PlanCell,
    Report,
    ReportCell,
    ReportRun,
    ReportSelection,
    Sequential,
    Verdict,
)
from specrunner.stopping import Stop, StopRule, stop_text
from specrunner.suite.matrix import cell_label
from specrunner.version import __version__

REPORT_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class BuiltReport:
    """A report just built, and the JSON text of its runs when building it wrote them out
    (to look for secrets in them) and kept them as they were: results.json writes those."""

    report: Report
    runs_json: ItemsJson | None


def build_report(
    plan: Plan,
    records: Sequence[RunRecord],
    *,
    secrets: Secrets | None = None,
    started_at: str | None,
    finished_at: str,
    run_dir: str | None,
    git_commit: str | None,
    stopped: str | None = None,
) -> BuiltReport:
    """The report of `plan`'s `records`, `secrets` (default: the plan's) masked in it; and
    the JSON text of its runs, when making it wrote them out as they are."""
    hidden = plan.secrets if secrets is None else secrets
    planned = {run.key: run for run in plan.runs}

    def shown_id(value: int) -> int | str:
        return MASK if str(value) in hidden else value

    runs: list[ReportRun] = []
    for record in records:
        run = planned[record.key]
        runs.append(
            {
                "key": record.key,
                "scenario_id": shown_id(record.scenario_id),
                "scenario": record.scenario,
                "cell": dict(record.cell),
                "repeat": record.repeat,
                "room": run.room,
                "outcome": record.outcome.value,
                "status": record.status,
                "run_id": record.run_id,
                "result_id": record.result_id,
                "error": record.error,
                **cekura_details(record.cekura),
                "publish_data_message": run.shown_payload,
            }
        )
    planned_cells = plan_cells(plan, shown_id)
    cells_meta = [meta_of(cell) for cell in planned_cells]
    cells, verdict = judge(runs, cells_meta)
    report: Report = {
        "report_version": REPORT_VERSION,
        "specrunner": __version__,
        "suite": {
            "name": plan.suite_name,
            "file": plan.suite_file,
            "version": plan.version,
            "description": plan.description,
        },
        "environment": plan.environment,
        # `Selection.as_json` writes the schema's selection.
        "selection": cast(ReportSelection, plan.selection.as_json()),
        "git": {"commit": git_commit},
        "started_at": started_at,
        "finished_at": finished_at,
        "run_dir": run_dir,
        "plan": plan_record(planned_cells),
        "verdict": verdict,
        "cells": cells,
        "runs": runs,
    }
    if stopped is not None:
        report["stopped"] = stopped
    cleaned, runs_json = _cleaned(cast(dict[str, Any], report), hidden)
    built = cast(Report, cleaned)
    built["plan"]["fingerprint"] = fingerprint(built)
    return BuiltReport(built, runs_json)


def _cleaned(report: dict[str, Any], hidden: Secrets) -> tuple[dict[str, Any], ItemsJson | None]:
    """`report` with every secret in its text replaced by *** and every float that is not
    finite (a NaN in a suite's payload, say) made null; and, when nothing needed either,
    the JSON text of its runs.

    Walking 10,000 runs' worth of values takes most of a second; so the report is first
    written out as JSON (its runs one by one, as results.json writes them, then the rest),
    and walked when that finds something to change, or when a secret holds a character
    JSON escapes (then the text would not show it as it is)."""
    try:
        runs = ItemsJson.of(report.get("runs", []))
        rest = item_json({key: value for key, value in report.items() if key != "runs"})
    except ValueError:  # a NaN or an infinity somewhere
        return cast(dict[str, Any], finite(hidden.redact(report))), None
    as_written = all(_written_as_is(v) for v in (*hidden.values(), *hidden.derived))
    texts = (*runs.texts, rest)
    # Searched 1,000 runs at a time (each string is whole in one run's text): a copy of
    # all 10,000 at once would be 10 MB more at the top of the run's memory.
    found = any(
        hidden.found_in("\n".join(texts[start : start + 1000]))
        for start in range(0, len(texts), 1000)
    )
    if as_written and not found:
        return report, runs
    return cast(dict[str, Any], hidden.redact(report)), None


def _written_as_is(value: str) -> bool:
    """Whether JSON text holds `value` as it is (no quote, backslash or control character
    in it to escape), so that searching the text finds it."""
    return json.dumps(value, ensure_ascii=False)[1:-1] == value


def cell_id(scenario: str, cell: Mapping[str, Any]) -> str:
    label = cell_label(cell)
    return scenario if label == "-" else f"{scenario} [{label}]"


def judge(
    runs: Sequence[ReportRun],
    cells_meta: Iterable[CellMeta],
    *,
    missing: Collection[str] = frozenset(),
) -> tuple[list[ReportCell], Verdict]:
    """The cells (in the order of `cells_meta`) with their verdicts, and the suite's verdict.

    Cells without runs in `runs` (left out by a selection or shard) are not reported. A
    cell with a run in `missing` (the keys of runs a partial merge lacks) is not met,
    whatever its rule says of the runs it has: nobody knows what the others would do.
    """
    by_cell = _by_cell(runs)
    cells: list[ReportCell] = []
    for meta in cells_meta:
        members = by_cell.get(cell_key(meta["scenario"], meta["cell"]))
        if not members:
            continue
        counts = CellCounts(count(r["outcome"] for r in members))
        rule = Rule(
            pass_rate=meta["expect"].get("pass_rate"), min_passes=meta["expect"].get("min_passes")
        )
        interval = wilson(counts.passes, counts.runs)
        met = rule.met(counts.passes, counts.runs) and not (
            missing and any(r["key"] in missing for r in members)
        )
        cell: ReportCell = {
            "id": cell_id(meta["scenario"], meta["cell"]),
            "scenario": meta["scenario"],
            "scenario_id": meta["scenario_id"],
            "cell": dict(meta["cell"]),
            "label": meta["label"],
            "tags": list(meta["tags"]),
            "expect": meta["expect"].copy(),
            "runs": counts.runs,
            "outcomes": _outcome_counts(counts.outcomes),
            "pass_rate": counts.pass_rate,
            "wilson": list(interval) if interval is not None else None,
            "flaky": counts.flaky,
            "met": met,
            "keys": [r["key"] for r in members],
        }
        if "repeat" in meta:
            cell["repeat"] = meta["repeat"].copy()
            cell["sequential"] = sequential(meta, counts, met)
        cells.append(cell)
    outcomes = _outcome_counts(count(r["outcome"] for r in runs))
    counted = len(runs) - outcomes.get("not_needed", 0)
    # Only finite numbers are judged (a saved report may hold anything JSON can).
    durations = [
        float(d) for r in runs if (d := finite_number(r.get("duration_seconds"))) is not None
    ]
    scores = [
        (m["name"], float(score))
        for r in runs
        for m in r.get("metrics") or ()
        if (score := finite_number(m.get("score"))) is not None
    ]
    passed_cells = sum(c["met"] for c in cells)
    verdict: Verdict = {
        "passed": passed_cells == len(cells),
        "cells": len(cells),
        "cells_passed": passed_cells,
        "cells_failed": len(cells) - passed_cells,
        "flaky_cells": sum(c["flaky"] for c in cells),
        "runs": counted,
        "outcomes": outcomes,
        "pass_rate": outcomes["passed"] / counted if counted else None,
        "duration_seconds": {"median": percentile(durations, 50), "p95": percentile(durations, 95)},
        "metrics": _means(scores),
    }
    return cells, verdict


def _by_cell(runs: Iterable[ReportRun]) -> dict[str, list[ReportRun]]:
    """The runs of each cell, by its `cell_key`: taken once per cell, not per run, for
    cells `_shown_cell` tells apart."""
    by_cell: dict[str, list[ReportRun]] = {}
    keys: dict[tuple[str, str], str] = {}
    for run in runs:
        scenario, matrix = run["scenario"], run["cell"]
        shown = _shown_cell(matrix)
        key = keys.get((scenario, shown)) if shown is not None else None
        if key is None:
            key = cell_key(scenario, matrix)
            if shown is not None:
                keys[scenario, shown] = key
        by_cell.setdefault(key, []).append(run)
    return by_cell


def _means(scores: Sequence[tuple[str, float]]) -> dict[str, float]:
    """`mean_scores`, with a mean that overflows (finite scores near the float's limits)
    taken again as a sum of each score over the count, which cannot overflow."""
    means = mean_scores(scores)
    for name, mean in means.items():
        if not math.isfinite(mean):
            mine = [score for metric, score in scores if metric == name]
            means[name] = math.fsum(score / len(mine) for score in mine)
    return means


def sequential(meta: CellMeta, counts: CellCounts, met: bool) -> Sequential:
    """A sequential cell's runs sent of its most, and why it stopped (worked out again
    from its runs, as the executor decided: `specrunner.stopping`)."""
    repeat = meta["repeat"]
    expect = meta["expect"]
    rule = StopRule.of(
        repeat["min"],
        repeat["max"],
        expect.get("pass_rate"),
        expect.get("min_passes"),
        expect.get("confidence"),
    )
    outcomes = counts.outcomes
    unsent = outcomes.get("not_run", 0)
    sent = counts.runs - unsent
    stopped = (
        Stop.UNFINISHED
        if unsent
        else rule.why(counts.passes, sent - counts.passes, outcomes.get("not_needed", 0))
    )
    return {
        "min": repeat["min"],
        "max": repeat["max"],
        "sent": sent,
        "stopped": stopped.value,
        "reason": stop_text(stopped, rule, sent, met),
    }


def cells_meta_of(report: Report) -> list[CellMeta]:
    """The cells' rules and labels as a saved report holds them (for re-judging)."""
    return [meta_of(cell) for cell in report["cells"]]


def meta_of(cell: ReportCell | PlanCell) -> CellMeta:
    """What judging needs of a cell of the report, or of its plan."""
    meta: CellMeta = {
        "scenario": cell["scenario"],
        "scenario_id": cell["scenario_id"],
        "cell": cell["cell"],
        "label": cell["label"],
        "tags": cell["tags"],
        "expect": cell["expect"],
    }
    if "repeat" in cell:
        meta["repeat"] = cell["repeat"]
    return meta


def _outcome_counts(counts: Mapping[str, int]) -> OutcomeCounts:
    """`judge.count`'s tally as the report's record (the same keys, in the same order;
    `not_needed` only where there are any)."""
    record: OutcomeCounts = {
        "passed": counts["passed"],
        "failed": counts["failed"],
        "error": counts["error"],
        "unknown": counts["unknown"],
        "not_run": counts["not_run"],
    }
    if counts.get("not_needed"):
        record["not_needed"] = counts["not_needed"]
    return record


def cell_key(scenario: str, cell: Mapping[str, Any]) -> str:
    """What makes a cell the same cell in any report: its scenario's name and its matrix
    values, as canonical JSON (whatever the order of the values, the shard or the run)."""
    return _CELL_KEYS.encode([scenario, cell])


_CELL_KEYS: Final = json.JSONEncoder(sort_keys=True, ensure_ascii=False)
"""`json.dumps(value, sort_keys=True, ensure_ascii=False)`, without making the encoder
again for each of a report's runs."""

_SHOWN_EXACTLY: Final = frozenset({str, int, float, bool, type(None)})


def _shown_cell(cell: Mapping[str, Any]) -> str | None:
    """The `repr` of a cell of strings, numbers, booleans and nulls under string keys:
    cells shown alike have one `cell_key` (the reverse need not hold: the order of their
    values may differ), so that judging takes the key once per cell rather than per run.
    None for any other cell."""
    if type(cell) is not dict:
        return None
    for name, value in cell.items():
        if type(name) is not str or type(value) not in _SHOWN_EXACTLY:
            return None
    return repr(cell)


def finite(value: Any) -> Any:
    """A copy of JSON data with every non-finite float (NaN, infinity) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
