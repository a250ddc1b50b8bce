"""Saved JSON reports: read and check them, re-render them, and merge the shards of a plan."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import cast

from specrunner.errors import UsageError
from specrunner.report.build import CellMeta, cells_meta_of, judge
from specrunner.report.records import Report, ReportRun
from specrunner.schemas import load_schema
from specrunner.shape import Check, compile_shape


def read_report(path: str) -> Report:
    """A report file, checked against schemas/report.v1.json."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not JSON ({exc})") from None
    if _conforms()(data):
        return cast(Report, data)
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
    return cast(Report, data)


@cache
def _conforms() -> Check:
    """Whether data is a report (schemas/report.v1.json), compiled once: checking 10,000
    runs this way takes a small part of what rendering them does."""
    return compile_shape(load_schema("report"))


def merge_reports(reports: Sequence[Report], names: Sequence[str]) -> Report:
    """One report from the shards of one plan: same suite, environment and selection (but
    the shard), no run twice; the cells are judged again over all their runs."""
    if len(reports) < 2:
        raise UsageError("merge: give at least two reports")
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
    seen: dict[str, str] = {}
    runs: list[ReportRun] = []
    for report, name in zip(reports, names, strict=True):
        for run in report["runs"]:
            if run["key"] in seen:
                raise UsageError(
                    f"merge: run {run['key']} is in both {seen[run['key']]} and "
                    f"{name}: shards of one plan share no run"
                )
            seen[run["key"]] = name
            runs.append(run)
    meta: dict[str, CellMeta] = {}
    for report in reports:
        for cell in cells_meta_of(report):
            meta.setdefault(json.dumps([cell["scenario"], cell["cell"]], sort_keys=True), cell)
    cells, verdict = judge(runs, meta.values())
    commits = {r["git"]["commit"] for r in reports}
    started = [r["started_at"] for r in reports if r["started_at"]]
    return {
        "report_version": first["report_version"],
        "specrunner": first["specrunner"],
        "suite": first["suite"],
        "environment": first["environment"],
        "selection": {**first["selection"], "shard": None},
        "git": {"commit": commits.pop() if len(commits) == 1 else None},
        "started_at": min(started) if started else None,
        "finished_at": max(r["finished_at"] for r in reports),
        "run_dir": None,
        "verdict": verdict,
        "cells": cells,
        "runs": list(runs),
    }


def _suite(report: Report) -> tuple[str, int]:
    return report["suite"]["name"], report["suite"]["version"]


def _selection(report: Report) -> dict[str, object]:
    return {k: v for k, v in report["selection"].items() if k != "shard"}
