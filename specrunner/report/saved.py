"""Saved JSON reports: read and check them, re-render them, and merge the shards of a plan."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, cast

from specrunner.errors import UsageError
from specrunner.report.build import finite, judge, meta_of
from specrunner.report.records import PlanCell, Report, ReportPlan, ReportRun
from specrunner.report.shards import Shards, check_shards, shard_of
from specrunner.schemas import load_schema
from specrunner.shape import Check, compile_shape


def read_report(path: str) -> Report:
    """A report file, checked against schemas/report.v1.json; a NaN or an infinity in it
    (JSON written elsewhere) is null."""
    try:
        data, finite_only = _parsed(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None
    if _conforms()(data):
        return cast(Report, data if finite_only else finite(data))
    # Not a report: jsonschema says why (the fast check only says whether).
    from jsonschema import Draft202012Validator  # slow to import, and rarely needed

    errors = sorted(
        Draft202012Validator(load_schema("report")).iter_errors(data),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "the top"
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise UsageError(
            f"{path}: not a specrunner report (schemas/report.v1.json): at "
            f"{where}: {first.message}{more}"
        )
    # The schema check above is what makes the data a `Report`.
    return cast(Report, data if finite_only else finite(data))


def _parsed(text: str) -> tuple[Any, bool]:
    """The JSON value of `text`, and whether every number in it is finite. Only a NaN, an
    infinity or a number too large for a double is not; noticed as the text is parsed,
    so that a report without one (any report specrunner writes) is not copied again by
    `finite`, most of the time of reading 10,000 runs."""
    odd: list[str] = []

    def number(literal: str) -> float:
        value = float(literal)
        if value - value != 0.0:  # an infinity (inf - inf is NaN)
            odd.append(literal)
        return value

    def constant(name: str) -> float:  # NaN, Infinity, -Infinity
        odd.append(name)
        return float(name)

    data = json.loads(text, parse_float=number, parse_constant=constant)
    return data, not odd


@cache
def _conforms() -> Check:
    """Whether data is a report (schemas/report.v1.json), compiled once: checking 10,000
    runs this way takes a small part of what rendering them does."""
    return compile_shape(load_schema("report"))


def merge_reports(
    reports: Sequence[Report], names: Sequence[str], *, allow_partial: bool = False
) -> Report:
    """One report from the shards of one plan: same suite, environment and selection (but
    the shard), one plan cut one way, each shard once and whole; the cells are judged
    again over all their runs, in the plan's order.

    A missing shard is an error, unless `allow_partial`: its runs are then in the report
    as not run, and their cells do not meet their rule."""
    if not reports:
        raise UsageError("merge: give the reports of the plan's shards")
    first, first_name = reports[0], names[0]
    for report, name in zip(reports[1:], names[1:], strict=True):
        # The suite file's path may differ from runner to runner; its name may not.
        for field, value, expected in (
            ("suite", _suite(report), _suite(first)),
            ("environment", report["environment"], first["environment"]),
        ):
            if value != expected:
                raise UsageError(
                    f"merge: {name} and {first_name} differ in {field}: they are "
                    "not shards of one plan"
                )
        if _selection(report) != _selection(first):
            raise UsageError(
                f"merge: {name} and {first_name} were selected differently (tags, "
                "scenarios or --set): they are not shards of one plan"
            )
    shards = check_shards(reports, names)
    if shards.missing and not allow_partial:
        one = len(shards.missing) == 1
        raise UsageError(
            f"merge: {shards.describe_missing()}: merge "
            f"{'its report' if one else 'their reports'} too, or pass --allow-partial to "
            f"merge without {'it' if one else 'them'} ({'its' if one else 'their'} runs "
            "then count as not run)"
        )
    given = {run["key"]: run for report in reports for run in report["runs"]}
    runs: list[ReportRun] = []
    for cell in shards.plan["cells"]:
        for repeat, key in enumerate(cell["keys"], start=1):
            run = given.get(key)
            runs.append(run if run is not None else _not_merged(cell, repeat, key, shards))
    cells, verdict = judge(
        runs, [meta_of(c) for c in shards.plan["cells"]], missing=shards.missing_keys
    )
    commits = {r["git"]["commit"] for r in reports}
    started = [r["started_at"] for r in reports if r["started_at"]]
    plan: ReportPlan = {
        **shards.plan,
        "merged": [str(s) for s in sorted(shards.given)],
        "missing": [str(s) for s in shards.missing],
    }
    merged: Report = {
        "report_version": first["report_version"],
        "specrunner": first["specrunner"],
        "suite": first["suite"],
        "environment": first["environment"],
        # The merged report is of the whole plan, as a run without --shard would be.
        "selection": {**first["selection"], "shard": None},
        "git": {"commit": commits.pop() if len(commits) == 1 else None},
        "started_at": min(started) if started else None,
        "finished_at": max(r["finished_at"] for r in reports),
        "run_dir": None,
        "plan": plan,
        "verdict": verdict,
        "cells": cells,
        "runs": runs,
    }
    stops = [
        f"shard {shard_of(r, n)}: {r['stopped']}"
        for r, n in zip(reports, names, strict=True)
        if r.get("stopped")
    ]
    if stops:
        merged["stopped"] = "; ".join(sorted(stops))
    return merged


def _not_merged(cell: PlanCell, repeat: int, key: str, shards: Shards) -> ReportRun:
    """The record of a run of a missing shard: planned, in no report, counted as not run."""
    shard = next((str(s) for s in shards.missing if key in s.keys_of(cell)), "?")
    return {
        "key": key,
        "scenario_id": cell["scenario_id"],
        "scenario": cell["scenario"],
        "cell": cell["cell"],
        "repeat": repeat,
        "room": cell["room"],
        "outcome": "not_run",
        "status": None,
        "run_id": None,
        "result_id": None,
        "error": f"not merged: shard {shard} is missing (merge --allow-partial)",
        "duration_seconds": None,
        "transcript": None,
        "recording_url": None,
        "metrics": [],
        "expected_outcome": None,
        "publish_data_message": None,
    }


def _suite(report: Report) -> tuple[str, int]:
    return report["suite"]["name"], report["suite"]["version"]


def _selection(report: Report) -> dict[str, object]:
    return {k: v for k, v in report["selection"].items() if k != "shard"}
