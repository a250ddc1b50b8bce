"""Benchmark: wall time of `specrunner --version` and of `validate`/`plan` on a small suite.

    python bench/bench_startup.py [--runs 20]

These commands must stay quick: the CLI imports what a command needs only when it runs
(no HTTP client, emulator or report code for these). Prints the median and the best of
--runs runs of each, next to a bare interpreter start for scale. The tree is compiled to
bytecode first (`bench/compiled.py`), as pip compiles an installed specrunner.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from compiled import compile_tree

ROOT = Path(__file__).resolve().parents[1]
SPECRUNNER = [sys.executable, "-m", "specrunner"]


def wall(command: list[str], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    compile_tree(ROOT)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "specrunner --version": [*SPECRUNNER, "--version"],
        "validate specs/smoke.yaml": [*SPECRUNNER, "validate", "specs/smoke.yaml"],
        "plan specs/smoke.yaml": [*SPECRUNNER, "plan", "specs/smoke.yaml"],
    }
    print(f"{'command':32}{'median':>10}{'best':>10}")
    for name, command in commands.items():
        median, best = wall(command, args.runs)
        print(f"{name:32}{median * 1000:>8.0f}ms{best * 1000:>8.0f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
