"""Benchmark: rendering a 10,000-run report in each format, and a run's tail.

Targets on the project's 2-core machine: under 2 s for each renderer; at most 0.35 s of
CPU for the run tail of 10,000 runs; under 1 s for `specrunner report` to render that
run's results.json again in all four formats.

    python bench/bench_reports.py     # the tail's figures, then a table; 1 if over a target
    python bench/bench_reports.py --tail-only --rounds 5
    python bench/bench_reports.py --tail-only --tail-runs 1000

The report is made in memory, shaped as schemas/report.v1.json: 1,000 cells (100
scenarios x 10 cells) x 10 runs, with Cekura metrics, a transcript of about 1 kB per run,
and a mix of outcomes (most passed, some failed, a few errors and unknowns), judged by
`specrunner.report.build.judge` as a run judges its own. Each renderer's time is the best
of several rounds (wall clock; the renderers do no I/O).

The run tail is what `specrunner run` does once its runs are done
(`specrunner.app.reports.write_run_report`): build the report of its records, write
results.json in its run folder and record the report in a new history (the history its
charts draw read back). Its inputs are those of bench_run.py's 10,000-run case (or, with
--tail-runs, another of its cases): that suite planned (10,000 runs: 500 scenarios x 20
repeats, a payload carrying the run key), and each run passed, with the Run object the
emulator returns (what specrunner keeps of it). Its figure is the CPU time of the process
(`time.process_time`), median of the rounds, each in a fresh folder.

Rendering again is the whole command `specrunner report results.json -o report.html -o
report.md -o report.xml -o report.json --no-history`, in a process of its own, on the
results.json that tail wrote (13 MB for 10,000 runs, transcripts included): its wall
time and CPU, median of the rounds.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from bench_run import GRID, KEY, suite
from specrunner.app.history import HistorySettings, keep
from specrunner.app.planning import PlanRequest, plan
from specrunner.app.reports import write_run_report
from specrunner.cekura_run import what_is_read
from specrunner.emulator.config import ScriptedOutcome
from specrunner.emulator.report import run_json
from specrunner.emulator.runs import Run, Status
from specrunner.history.entries import Source
from specrunner.masking import Secrets
from specrunner.models import Outcome, Plan, RunRecord
from specrunner.report.build import judge
from specrunner.report.console import console_summary
from specrunner.report.junit import render_junit
from specrunner.report.markdown import render_markdown
from specrunner.report.write import render_json
from specrunner.suite.matrix import cell_label

TARGET_SECONDS = 2.0
TAIL_TARGET_SECONDS = 0.35
LOCALES = ("en-US", "es-ES", "fr-FR", "de-DE", "it-IT")
PERSONAS = ("calm", "hurried")
TRANSCRIPT = "\n".join(
    f"{'Testing Agent' if i % 2 == 0 else 'Main Agent'}: line {i} of the call, about an "
    "order of two pizzas and a salad."
    for i in range(14)
)


def make_report(scenarios: int, repeat: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    runs: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    for s in range(scenarios):
        name = f"scenario-{s:03d}"
        for locale in LOCALES:
            for persona in PERSONAS:
                cell = {"locale": locale, "persona": persona}
                metas.append(
                    {
                        "scenario": name,
                        "scenario_id": 1000 + s,
                        "cell": cell,
                        "label": cell_label(cell),
                        "tags": ["bench"],
                        "expect": {"pass_rate": 0.9},
                    }
                )
                for r in range(1, repeat + 1):
                    runs.append(_run(rng, len(runs), name, 1000 + s, cell, r))
    cells, verdict = judge(runs, metas)
    return {
        "report_version": 1,
        "specrunner": "0.1.0",
        "suite": {"name": "bench", "file": "bench.yaml", "version": 1, "description": None},
        "environment": "staging",
        "selection": {
            "environment": "staging",
            "tags": [],
            "scenarios": [],
            "shard": None,
            "set": [],
        },
        "git": {"commit": "0" * 40},
        "started_at": "2026-01-01T00:00:00Z",
        "finished_at": "2026-01-01T01:00:00Z",
        "run_dir": "/tmp/bench",
        "verdict": verdict,
        "cells": cells,
        "runs": runs,
    }


def _run(
    rng: random.Random, number: int, scenario: str, scenario_id: int, cell: Any, repeat: int
) -> dict[str, Any]:
    roll = rng.random()
    outcome = (
        "passed"
        if roll < 0.9
        else "failed"
        if roll < 0.97
        else "error"
        if roll < 0.99
        else "unknown"
    )
    judged = outcome in ("passed", "failed")
    score = 100 if outcome == "passed" else 0
    return {
        "key": f"{number:016x}",
        "scenario_id": scenario_id,
        "scenario": scenario,
        "cell": cell,
        "repeat": repeat,
        "room": "bot",
        "outcome": outcome,
        "status": "completed" if judged else "timeout" if outcome == "error" else None,
        "run_id": 100_000 + number,
        "result_id": 50_000 + number // 40,
        "error": None if judged else "Cekura: the run ended timeout",
        "duration_seconds": float(rng.randint(30, 240)) if judged else None,
        "transcript": TRANSCRIPT if judged else None,
        "recording_url": f"https://recordings.example.invalid/{number}.wav" if judged else None,
        "metrics": [
            {
                "name": "Expected Outcome",
                "type": "binary_workflow_adherence",
                "score": score,
                "value": None,
                "explanation": ["The expected outcome was met." if score else "It was not."],
            },
            {
                "name": "Average Latency (ms)",
                "type": "numeric",
                "score": rng.randint(400, 1600),
                "value": None,
                "explanation": [],
            },
        ]
        if judged
        else [],
        "expected_outcome": {"score": score, "explanation": ["The agent did not confirm."]}
        if judged
        else None,
        "publish_data_message": {"scenario": scenario, "attempt": repeat, **cell},
    }


def best_of(
    render: Callable[[Mapping[str, Any]], object], report: Mapping[str, Any], rounds: int
) -> tuple[float, int]:
    best = float("inf")
    size = 0
    for _ in range(rounds):
        start = time.perf_counter()
        output = render(report)
        best = min(best, time.perf_counter() - start)
        size = len("\n".join(output)) if isinstance(output, list) else len(str(output))
    return best, size


def tail_inputs(folder: Path, runs: int = 10_000) -> tuple[Plan, list[RunRecord], Secrets]:
    """bench_run.py's case of `runs` runs, planned, each run passed as the emulator reports it;
    and the secrets its run hides (the plan's and the API key)."""
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite(GRID[runs])))
    planned = plan(PlanRequest(suite=str(path)), environ={})
    records = []
    for number, run in enumerate(planned.runs, start=1):
        emulated = Run(
            id=number,
            result_id=1 + (number - 1) // 10,
            scenario=run.scenario_id,
            scenario_name=run.scenario,
            agent=1,
            room_url=f"https://specrunner-emulator.daily.co/lab-{number % 1000}",
            token=None,
            payload=run.publish_data_message,
            created_at=0.0,
            outcome=ScriptedOutcome.PASSED,
            duration=0.2,
            status=Status.COMPLETED,
            started_at=0.0,
            call_ended_at=0.2,
            finished_at=0.2,
            ended_reason="customer-ended-call",
        )
        cekura = what_is_read(run_json(emulated, lambda _: "2026-01-01T00:00:00Z"))
        records.append(
            RunRecord.of(
                run,
                Outcome.PASSED,
                status="completed",
                run_id=number,
                result_id=emulated.result_id,
                cekura=cekura,
            )
        )
    return planned, records, planned.secrets.plus([KEY])


def run_tail_cpu(rounds: int, runs: int = 10_000) -> list[float]:
    """CPU seconds of `write_run_report` for bench_run.py's case of `runs` runs, once per
    round (each with a run folder and a history of its own)."""
    times = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        planned, records, secrets = tail_inputs(folder, runs)
        for round_ in range(rounds):
            run_dir = folder / f"run-{round_}"
            run_dir.mkdir()
            settings = HistorySettings(str(run_dir / "history.sqlite"), workdir=run_dir)

            def trend(report: Any, runs: Any, settings: HistorySettings = settings) -> Any:
                warn = lambda line: print(line, file=sys.stderr)  # noqa: E731
                return keep(report, Source.RUN, settings, warn, runs)

            began = time.process_time()
            run_tail(planned, records, secrets, run_dir, trend=trend)
            times.append(time.process_time() - began)
    return times


def run_tail(planned: Any, records: Any, secrets: Any, run_dir: Path, *, trend: Any = None) -> None:
    """What `specrunner run` does once its runs are done, in `run_dir`: its results.json
    written there (and, with `trend`, the run recorded in a history)."""
    write_run_report(
        planned,
        records,
        secrets=secrets,
        outputs=[run_dir / "results.json"],
        started_at="2026-01-01T00:00:00Z",
        run_dir=run_dir,
        workdir=run_dir,
        trend=trend,
    )


SAVED_TARGET_SECONDS = 1.0


def rendered_again(rounds: int, runs: int = 10_000) -> tuple[float, float]:
    """Wall and CPU seconds (medians of `rounds`) of `specrunner report` rendering the
    results.json of the run tail of `runs` runs in all four formats."""
    walls, cpus = [], []
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        planned, records, secrets = tail_inputs(folder, runs)
        run_tail(planned, records, secrets, folder)
        outputs = ["report.html", "report.md", "report.xml", "report.json"]
        command = [sys.executable, "-m", "specrunner", "report", "results.json"]
        command += [arg for name in outputs for arg in ("-o", name)] + ["--no-history"]
        for _ in range(rounds):
            began = time.perf_counter()
            child = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            walls.append(time.perf_counter() - began)
            cpus.append(usage.ru_utime + usage.ru_stime)
            if os.waitstatus_to_exitcode(status) != 0:
                raise SystemExit(f"specrunner report failed: {command}")
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", type=int, default=100, help="10 cells each")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--tail-only", action="store_true", help="only the run tail")
    parser.add_argument(
        "--tail-runs",
        type=int,
        default=10_000,
        choices=sorted(GRID),
        help="the run tail of bench_run.py's case of this many runs (the target is for 10,000)",
    )
    args = parser.parse_args()
    tail = statistics.median(run_tail_cpu(args.rounds, args.tail_runs))
    over = args.tail_runs == 10_000 and tail > TAIL_TARGET_SECONDS
    target = f"target <= {TAIL_TARGET_SECONDS:.2f} s" if args.tail_runs == 10_000 else "no target"
    print(
        f"run tail of {args.tail_runs:,} runs (write_run_report): {tail:.3f} s of CPU, "
        f"median of {args.rounds} ({target}){'  OVER' if over else ''}"
    )
    if args.tail_only:
        return 1 if over else 0
    wall, cpu = rendered_again(args.rounds)
    slow = wall >= SAVED_TARGET_SECONDS
    print(
        f"specrunner report of those 10,000 runs, to four formats: {wall:.3f} s "
        f"({cpu:.3f} s of CPU), median of {args.rounds} (target < {SAVED_TARGET_SECONDS:.1f} s)"
        f"{'  OVER' if slow else ''}"
    )
    over = over or slow
    report = make_report(args.scenarios, args.repeat)
    verdict = report["verdict"]
    print(
        f"{verdict['runs']:,} runs in {verdict['cells']:,} cells "
        f"({verdict['cells_failed']} failing, {verdict['flaky_cells']} flaky); "
        f"best of {args.rounds}"
    )
    renderers: dict[str, Callable[[Mapping[str, Any]], object]] = {
        "render_json": render_json,
        "render_junit": render_junit,
        "render_markdown": render_markdown,
        "console_summary": console_summary,
    }
    print(f"{'renderer':20}{'seconds':>10}{'output':>14}")
    worst = 0.0
    for name, render in renderers.items():
        seconds, size = best_of(render, report, args.rounds)
        worst = max(worst, seconds)
        print(f"{name:20}{seconds:>10.3f}{size:>12,} ch")
    print(f"{'slowest':20}{worst:>10.3f}   (target < {TARGET_SECONDS:.1f}s each)")
    return 0 if worst < TARGET_SECONDS and not over else 1


if __name__ == "__main__":
    sys.exit(main())
