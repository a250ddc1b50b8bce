"""Build the JSON report, the canonical record of a run, and judge its cells.

Everything here works on JSON-shaped data (schemas/report.v1.json), so that `specrunner
report` and `specrunner merge` can judge saved reports exactly as a run judges its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final, TypedDict, cast

from specrunner.judge import CellCounts, Rule, count, mean_scores, percentile, wilson
from specrunner.masking import MASK, Secrets
from specrunner.models import Plan, RunRecord
from specrunner.report.planned import fingerprint, plan_cells, plan_record
from specrunner.report.records import (
    CellMeta,
    ExpectedOutcome,
    OutcomeCounts,
    PlanCell,
    Report,
    ReportCell,
    ReportMetric,
    ReportRun,
    ReportSelection,
    Sequential,
    Verdict,
)
from specrunner.stopping import Stop, StopRule, stop_text
from specrunner.suite.matrix import cell_label
from specrunner.version import __version__

REPORT_VERSION: Final = 1


class CekuraDetails(TypedDict):
    """The part of a report's run that comes from Cekura's Run object."""

    duration_seconds: float | None
    transcript: str | None
    recording_url: str | None
    metrics: list[ReportMetric]
    expected_outcome: ExpectedOutcome | None


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
) -> Report:
    """The report of `plan`'s `records`; `secrets` (default: the plan's) are masked in it."""
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
    cleaned = cast(Report, _cleaned(cast(dict[str, Any], report), hidden))
    cleaned["plan"]["fingerprint"] = fingerprint(cleaned)
    return cleaned


def _cleaned(report: dict[str, Any], hidden: Secrets) -> dict[str, Any]:
    """`report` with every secret in its text replaced by *** and every float that is not
    finite (a NaN in a suite's payload, say) made null. Walking 10,000 runs' worth of
    values takes most of a second; so the report is first written out as JSON once, and
    walked when that finds something to change, or when a secret holds a character JSON
    escapes (then the text would not show it as it is)."""
    try:
        text = json.dumps(report, ensure_ascii=False, allow_nan=False)
    except ValueError:  # a NaN or an infinity somewhere
        return cast(dict[str, Any], finite(hidden.redact(report)))
    as_written = all(_written_as_is(v) for v in (*hidden.values(), *hidden.derived))
    if as_written and hidden.redact_text(text) == text:
        return report
    return cast(dict[str, Any], hidden.redact(report))


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
    by_cell: dict[str, list[ReportRun]] = {}
    for run in runs:
        by_cell.setdefault(cell_key(run["scenario"], run["cell"]), []).append(run)
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
        met = rule.met(counts.passes, counts.runs) and not any(r["key"] in missing for r in members)
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
    return json.dumps([scenario, cell], sort_keys=True, ensure_ascii=False)


def cekura_details(run: Any) -> CekuraDetails:
    """What the report keeps of Cekura's Run object.

    Never raises, whatever the Run object holds: a value of an unexpected type or a number
    that is not finite (NaN, infinity) becomes null, and an explanation that is not a list
    of strings becomes one (each odd item as its JSON text)."""
    run = run if isinstance(run, Mapping) else {}
    evaluation = run.get("evaluation")
    listed = evaluation.get("metrics") if isinstance(evaluation, Mapping) else None
    metrics: list[ReportMetric] = []
    for metric in listed if isinstance(listed, list) else ():
        if not isinstance(metric, Mapping) or metric.get("name") is None:
            continue
        kind = metric.get("type")
        value = metric.get("value")
        metrics.append(
            {
                "name": _text(metric["name"]),
                "type": "" if kind is None else _text(kind),
                "score": finite_number(metric.get("score")),
                "value": value if isinstance(value, str) else None,
                "explanation": _explanation(metric.get("explanation")),
            }
        )
    expected = run.get("expected_outcome")
    expected_outcome: ExpectedOutcome | None = None
    if isinstance(expected, Mapping):
        expected_outcome = {
            "score": finite_number(expected.get("score")),
            "explanation": _explanation(expected.get("explanation")),
        }
    transcript = run.get("transcript")
    recording = run.get("voice_recording_url")
    return {
        "duration_seconds": _seconds(run.get("duration")),
        "transcript": transcript if isinstance(transcript, str) and transcript else None,
        "recording_url": recording if isinstance(recording, str) and recording else None,
        "metrics": metrics,
        "expected_outcome": expected_outcome,
    }


def finite_number(value: Any) -> int | float | None:
    """`value` when it is a finite number (not a bool, not NaN or infinite), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # an int too large for a float
        return None


def finite(value: Any) -> Any:
    """A copy of JSON data with every non-finite float (NaN, infinity) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _text(value: Any) -> str:
    """A string as it is; any other value as its JSON text (never raises)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True, default=repr)
    except (ValueError, TypeError, RecursionError):
        return "<unreadable value>"


def _explanation(value: Any) -> list[str]:
    """Cekura's explanation (a list of strings, normally) as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [_text(item) for item in value]
    return [_text(value)]


def _seconds(duration: Any) -> float | None:
    """Cekura's "MM:SS" (or "H:MM:SS") as seconds; None unless that is a finite,
    non-negative number."""
    if not isinstance(duration, str) or ":" not in duration:
        return None
    total = 0.0
    for part in duration.split(":"):
        try:
            number = float(part)
        except ValueError:
            return None
        if not math.isfinite(number) or number < 0:
            return None
        total = total * 60 + number
    return total if math.isfinite(total) else None
