"""Benchmark: the local history of 1,000 runs of a 100-cell suite.

Targets on the project's 2-core machine: recording a run (what `specrunner run` adds: the
report summed up, written in the history, and the history its charts draw read back)
under 100 ms; `specrunner history SUITE` answering under 1 s, as a whole process, both for
the default window (20 runs) and for all 1,000 runs (its JSON over all 1,000 runs, 100,000
values, is timed without a target).

    python bench/bench_history.py            # prints a table; exits 1 if over a target
    python bench/bench_history.py --runs 200 # a smaller history, for a quick look

The reports are made as bench_reports.py makes its own (100 cells: 10 scenarios x 10
locale and persona cells, 3 runs each, outcomes drawn from a seed that changes per run), so
that cells flip from run to run. Each figure is the median of several rounds.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

from bench_reports import make_report
from specrunner.app.history import HistorySettings, keep
from specrunner.history.entries import Source, entry_of
from specrunner.history.store import open_history
from specrunner.report.records import Report

RECORD_TARGET = 0.100
HISTORY_TARGET = 1.0


def report_at(i: int) -> Report:
    """Run `i`: outcomes drawn from its own seed, finished an hour after run i - 1."""
    made = cast(Report, make_report(10, 3, seed=i))
    day, hour = divmod(i, 24)
    month, day = divmod(day, 28)
    made["finished_at"] = (
        f"{2026 + month // 12}-{1 + month % 12:02d}-{1 + day:02d}T{hour:02d}:00:00Z"
    )
    return made


def fill(path: Path, runs: int) -> None:
    with open_history(path) as store:
        for i in range(runs):
            store.record(entry_of(report_at(i)), source=Source.RUN, recorded_at="bench")


def timed_records(path: Path, rounds: int, first: int) -> list[float]:
    settings = HistorySettings(str(path), environ={}, workdir=path.parent)
    times = []
    for i in range(rounds):
        report = report_at(first + i)
        began = time.perf_counter()
        trend = keep(report, Source.RUN, settings, lambda line: print(line, file=sys.stderr))
        times.append(time.perf_counter() - began)
        assert trend is not None and len(trend.runs) > 1
    return times


def timed_command(path: Path, *args: str, rounds: int) -> list[float]:
    command = [sys.executable, "-m", "specrunner", "history", "bench", "--history", str(path)]
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        done = subprocess.run([*command, *args], capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - began)
        assert done.returncode == 0, done.stderr
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.sqlite"
        began = time.perf_counter()
        fill(path, options.runs)
        print(f"recorded {options.runs} runs of 100 cells in {time.perf_counter() - began:.1f} s")
        records = timed_records(path, options.rounds, options.runs)
        rows.append(
            ("record a run (and read back its charts)", statistics.median(records), RECORD_TARGET)
        )
        every = str(options.runs)
        for label, args in (
            ("specrunner history (last 20), whole process", ()),
            (f"specrunner history --last {every}, whole process", ("--last", every)),
            ("... as JSON (no target: 100,000 values)", ("--last", every, "--format", "json")),
        ):
            took = timed_command(path, *args, rounds=options.rounds)
            rows.append(
                (label, statistics.median(took), HISTORY_TARGET if "JSON" not in label else 0)
            )
        size = path.stat().st_size
    width = max(len(label) for label, _, _ in rows)
    print(f"{'measure':<{width}}  {'median':>9}  {'target':>8}")
    failed = False
    for label, value, target in rows:
        over = bool(target) and value > target
        failed |= over
        shown = f"{target * 1000:6.0f}ms" if target else f"{'—':>8}"
        print(f"{label:<{width}}  {value * 1000:7.1f}ms  {shown}{'  OVER' if over else ''}")
    print(f"history file: {size / 1e6:.1f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
