"""Reports for the views' tests: the sample in data/, reports made to size, golden files.

Made reports are judged by `specrunner.report.build.judge`, exactly as a run judges its
own, so their cells and verdicts are consistent with their runs.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from specrunner.report.build import CellMeta, cells_meta_of, judge
from specrunner.report.records import ExpectRule, OutcomeName, Report, ReportRun
from specrunner.suite.matrix import cell_label

HERE = Path(__file__).parent
CELLS_REPORT = HERE / "data" / "cells-report.json"
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("SPECRUNNER_UPDATE_GOLDEN") == "1"
SCHEMA = HERE.parents[1] / "schemas" / "report.v1.json"


@cache
def _cells_report() -> str:
    return CELLS_REPORT.read_text(encoding="utf-8")


def cells_report() -> Report:
    """The sample: passed, failed and flaky, flaky but met, error, unknown and not-run
    cells, and a scenario whose name, label and errors are hostile to every format."""
    data: Report = json.loads(_cells_report())
    return data


def rejudged(report: Report, keep: Sequence[str]) -> Report:
    """`report` with only the cells whose ids are in `keep`, judged again."""
    cells = [c for c in report["cells"] if c["id"] in keep]
    keys = {key for cell in cells for key in cell["keys"]}
    runs = [copy.deepcopy(r) for r in report["runs"] if r["key"] in keys]
    metas = [m for m, c in zip(cells_meta_of(report), report["cells"], strict=True) if c in cells]
    new_cells, verdict = judge(runs, metas)
    return {**copy.deepcopy(report), "cells": new_cells, "verdict": verdict, "runs": runs}


def make_report(
    outcomes: Sequence[Sequence[OutcomeName]],
    *,
    expect: ExpectRule | None = None,
    error: str | None = "Cekura: the run ended timeout",
    duration: float | None = 60.0,
) -> Report:
    """A report with one cell per item of `outcomes` (scenario `scenario-NNNN`, cell
    `n=N`), each with runs of those outcomes; runs that error carry `error`."""
    runs: list[ReportRun] = []
    metas: list[CellMeta] = []
    for index, cell_outcomes in enumerate(outcomes):
        scenario = f"scenario-{index // 10:04d}"
        cell: dict[str, Any] = {"n": index % 10}
        metas.append(
            {
                "scenario": scenario,
                "scenario_id": 1000 + index // 10,
                "cell": cell,
                "label": cell_label(cell),
                "tags": [],
                "expect": (expect or {"pass_rate": 1.0}).copy(),
            }
        )
        for repeat, outcome in enumerate(cell_outcomes, start=1):
            number = len(runs)
            sent = outcome != "not_run"
            runs.append(
                {
                    "key": f"{number:016x}",
                    "scenario_id": 1000 + index // 10,
                    "scenario": scenario,
                    "cell": cell,
                    "repeat": repeat,
                    "room": "lab",
                    "outcome": outcome,
                    "status": "completed" if outcome in ("passed", "failed") else None,
                    "run_id": 5000 + number if sent else None,
                    "result_id": 900 + index if sent else None,
                    "error": error if outcome in ("error", "unknown", "not_run") else None,
                    "duration_seconds": duration if outcome in ("passed", "failed") else None,
                    "transcript": None,
                    "recording_url": None,
                    "metrics": [],
                    "expected_outcome": None,
                    "publish_data_message": None,
                }
            )
    cells, verdict = judge(runs, metas)
    return {
        "report_version": 1,
        "specrunner": "0.1.0",
        "suite": {"name": "made", "file": "made.yaml", "version": 1, "description": None},
        "environment": None,
        "selection": {"environment": None, "tags": [], "scenarios": [], "shard": None, "set": []},
        "git": {"commit": None},
        "started_at": None,
        "finished_at": "2026-01-02T03:04:05Z",
        "run_dir": None,
        "verdict": verdict,
        "cells": cells,
        "runs": runs,
    }


def check_golden(name: str, actual: str) -> None:
    """`actual` is golden/NAME; SPECRUNNER_UPDATE_GOLDEN=1 rewrites it instead (review the
    diff by eye)."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
    assert path.exists(), f"{path} is missing (run with SPECRUNNER_UPDATE_GOLDEN=1)"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file"
