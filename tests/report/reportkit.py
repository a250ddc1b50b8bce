"""Reports to render: the trimmed real sample, a hostile one, and large synthetic ones.

Cells and verdicts always come from `specrunner.report.build.judge`, so every report here
has the shape a run writes (a test checks them against schemas/report.v1.json).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from specrunner.report.build import CellMeta, cells_meta_of, judge
from specrunner.report.records import ExpectRule, OutcomeName, Report, ReportRun
from specrunner.suite.matrix import cell_label

SAMPLE = Path(__file__).parent / "data" / "sample-report.json"

EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_TRANSCRIPT = "Testing Agent: hi </script><script>alert(1)</script>\nMain Agent: hello"
EVIL_TAG = '"><svg onload=alert(1)>'
EVIL_URL = "javascript:alert(1)"
EVIL_ERROR = "<b onmouseover=alert(1)>boom</b> & more"

LOCALES = ("en-US", "es-ES", "fr-FR", "de-DE", "it-IT")
PERSONAS = ("polite", "impatient")


def sample() -> Report:
    report: Report = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return report


def rejudged(report: Report, cells_meta: Sequence[CellMeta]) -> Report:
    """`report` with its cells and verdict judged again from its runs."""
    out = report.copy()
    out["cells"], out["verdict"] = judge(report["runs"], cells_meta)
    return out


def hostile() -> Report:
    """The sample with markup and script in every place a suite or Cekura can put text.

    The first cell's scenario is renamed; its first run has the hostile transcript, error
    and recording URL."""
    report = copy.deepcopy(sample())
    renamed = report["cells"][0]["scenario"]
    meta = cells_meta_of(report)
    for cell in meta:
        if cell["scenario"] == renamed:
            cell["scenario"] = EVIL_NAME
            cell["tags"] = [*cell["tags"], EVIL_TAG]
    first_key = report["cells"][0]["keys"][0]
    for run in report["runs"]:
        if run["scenario"] == renamed:
            run["scenario"] = EVIL_NAME
        if run["key"] == first_key:
            run["transcript"] = EVIL_TRANSCRIPT
            run["error"] = EVIL_ERROR
            run["recording_url"] = EVIL_URL
            run["publish_data_message"] = {"note": EVIL_TRANSCRIPT}
    report["suite"]["name"] = EVIL_NAME
    report["environment"] = EVIL_TAG
    return rejudged(report, meta)


def synthetic(runs: int, *, per_cell: int = 10, seed: int = 7) -> Report:
    """A report of `runs` runs, `per_cell` to a cell (the last cell may have fewer), ten
    cells to a scenario, with mostly passes and some failures, errors and unknowns."""
    rng = random.Random(seed)
    cells_meta: list[CellMeta] = []
    run_list: list[ReportRun] = []
    for c in range((runs + per_cell - 1) // per_cell):
        scenario = f"scenario-{c // 10:03d}"
        scenario_id = 1000 + c // 10
        cell = {"locale": LOCALES[c % 5], "persona": PERSONAS[(c // 5) % 2]}
        expect: ExpectRule = {"pass_rate": 0.8} if c % 3 else {"min_passes": max(1, per_cell // 2)}
        cells_meta.append(
            {
                "scenario": scenario,
                "scenario_id": scenario_id,
                "cell": cell,
                "label": cell_label(cell),
                "tags": ["synthetic", f"group-{c // 10 % 7}"],
                "expect": expect,
            }
        )
        quality = rng.choice((1.0, 1.0, 0.95, 0.8, 0.5))
        for repeat in range(1, min(per_cell, runs - len(run_list)) + 1):
            n = len(run_list)
            draw = rng.random()
            outcome: OutcomeName = (
                "error"
                if draw < 0.01
                else "unknown"
                if draw < 0.015
                else "passed"
                if rng.random() < quality
                else "failed"
            )
            run_list.append(_run(n, scenario, scenario_id, cell, repeat, outcome, rng))
    # Not yet a `Report`: `rejudged` adds its cells and verdict.
    report: Any = {
        "report_version": 1,
        "specrunner": "0.1.0",
        "suite": {
            "name": "synthetic",
            "file": "specs/synthetic.yaml",
            "version": 1,
            "description": f"{runs} generated runs.",
        },
        "environment": "staging",
        "selection": {
            "environment": "staging",
            "tags": [],
            "scenarios": [],
            "shard": None,
            "set": [],
        },
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567"},
        "started_at": "2026-11-21T05:00:00Z",
        "finished_at": "2026-11-21T06:00:00Z",
        "run_dir": None,
        "runs": run_list,
    }
    return rejudged(report, cells_meta)


def _run(
    n: int,
    scenario: str,
    scenario_id: int,
    cell: Mapping[str, Any],
    repeat: int,
    outcome: OutcomeName,
    rng: random.Random,
) -> ReportRun:
    finished = outcome in ("passed", "failed")
    latency = rng.randint(400, 1800)
    lines = [
        f"Testing Agent: Hi, I'm calling about {scenario} ({cell['locale']}).",
        "Main Agent: Thanks for calling! Could you give me a few details?",
        "Testing Agent: Sure, here is my order number and what went wrong.",
        "Main Agent: Got it. Let me take care of that for you now.",
        "Testing Agent: Great, thank you.",
        "Main Agent: You're all set. Is there anything else?",
    ]
    return {
        "key": f"{n:016x}",
        "scenario_id": scenario_id,
        "scenario": scenario,
        "cell": dict(cell),
        "repeat": repeat,
        "room": "staging_bot",
        "outcome": outcome,
        "status": {"passed": "completed", "failed": "completed", "error": None}.get(
            outcome, "evaluating"
        ),
        "run_id": 100000 + n if outcome != "error" else None,
        "result_id": 50000 + n // 10 if outcome != "error" else None,
        "error": "room source failed: 503 from the agent API" if outcome == "error" else None,
        "duration_seconds": float(rng.randint(20, 240)) if finished else None,
        "transcript": "\n".join(lines) if finished else None,
        "recording_url": f"https://recordings.example.invalid/{n}.wav" if finished else None,
        "metrics": [
            {
                "name": "Expected Outcome",
                "type": "binary_workflow_adherence",
                "score": 100 if outcome == "passed" else 0,
                "value": None,
                "explanation": [
                    "The expected outcome was met." if outcome == "passed" else "Not met."
                ],
            },
            {
                "name": "Average Latency (ms)",
                "type": "numeric",
                "score": latency,
                "value": None,
                "explanation": [f"Median response latency was {latency} ms."],
            },
        ]
        if finished
        else [],
        "expected_outcome": {
            "score": 100 if outcome == "passed" else 0,
            "explanation": [
                "The agent completed the request." if outcome == "passed" else "It did not."
            ],
        }
        if finished
        else None,
        "publish_data_message": {
            "suite": "synthetic",
            "scenario": scenario,
            "run_key": f"{n:016x}",
            "attempt": repeat,
            **cell,
        },
    }
