"""Benchmark: the fuzz strategies of tests/fuzz, run for longer than the test suite does.

    python bench/fuzz.py                          # 500 examples
    python bench/fuzz.py --examples 20000         # the long run
    python bench/fuzz.py --family templates --examples 2000 --seed 7
    python bench/fuzz.py --replay fuzz-failures.jsonl

The examples are split evenly over the families of tests/fuzz/strategies.py (mutated
examples, hostile YAML, hostile templates, hostile options, the canary secret), or go to
one `--family`. Each runs as the tests run it (tests/fuzz/harness.py): `specrunner
validate` and `plan` through click's CliRunner in a forked child, 5 s per command, 1 GiB
of address space beyond this process's. Prints the examples run, the exit codes, the
tracebacks and canary leaks (0 of each expected), the other problems, the slowest example
and the peak memory, and writes every failing example, one JSON object a line, to
`--failures` (replay them with `--replay`). Exits 1 when any example went wrong.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

# tests/ first: the fuzz package there, not this file, is `fuzz`
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz.harness import run_forked, warm_up
from fuzz.outcome import Case, Outcome
from fuzz.strategies import FAMILIES


class Tally:
    """What the runs gave, as they come."""

    def __init__(self, failures: Path | None) -> None:
        self.examples = 0
        self.by_family: Counter[str] = Counter()
        self.exit_codes: Counter[str] = Counter()
        self.problems: Counter[str] = Counter()
        self.tracebacks = 0
        self.leaks = 0
        self.failed = 0
        self.slowest = (0.0, "")
        self.largest_child = 0
        self.failures = failures

    def add(self, outcome: Outcome) -> None:
        self.examples += 1
        self.by_family[outcome.case.family] += 1
        for ran in outcome.ran:
            self.exit_codes["killed" if ran.exit_code is None else str(ran.exit_code)] += 1
            if ran.seconds > self.slowest[0]:
                self.slowest = (ran.seconds, f"[{outcome.case.family}] {outcome.case.label}")
        self.largest_child = max(self.largest_child, outcome.peak_bytes)
        if outcome.ok:
            return
        self.failed += 1
        self.tracebacks += any("traceback" in p for p in outcome.problems)
        self.leaks += any("canary" in p for p in outcome.problems)
        for problem in outcome.problems:
            self.problems[_kind(problem)] += 1
        if self.failures is not None:
            with self.failures.open("a", encoding="utf-8") as out:
                record = {**outcome.case.to_json(), "problems": list(outcome.problems)}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")

    def print(self, seconds: float) -> None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        families = ", ".join(f"{name} {count}" for name, count in sorted(self.by_family.items()))
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.exit_codes.items()))
        print(f"examples run        {self.examples} in {seconds:.0f} s ({families})")
        print(f"exit codes          {codes} (per command)")
        print(f"failing examples    {self.failed}")
        print(f"tracebacks          {self.tracebacks} (0 expected)")
        print(f"canary leaks        {self.leaks} (0 expected)")
        for kind, count in self.problems.most_common():
            print(f"  {count:>6}  {kind}")
        print(f"slowest example     {self.slowest[0]:.2f} s: {self.slowest[1][:150]}")
        print(
            f"peak memory         {rss / 2**20:.0f} MiB (this process), "
            f"{children / 2**20:.0f} MiB (largest child), "
            f"{self.largest_child / 2**20:.0f} MiB (largest growth of a child)"
        )
        if self.failed and self.failures is not None:
            print(f"failing examples written to {self.failures}")


def _kind(problem: str) -> str:
    """A problem without the parts that vary between examples, to count alike ones."""
    for stem in ("an exception escaped the CLI", "the fuzz harness failed", "still running"):
        if problem.startswith(stem):
            return stem
    return problem


def fuzz(
    strategy: st.SearchStrategy[Case], examples: int, rng_seed: int, each: Callable[[Case], None]
) -> None:
    """Call `each` on up to `examples` cases drawn from `strategy` (fewer when the
    strategy has fewer distinct cases)."""

    @seed(rng_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: Case) -> None:
        each(case)

    run()


def replay(path: Path, folder: Path) -> int:
    cases = [Case.from_json(json.loads(line)) for line in path.read_text().splitlines() if line]
    failed = 0
    for case in cases:
        outcome = run_forked(case, folder)
        failed += not outcome.ok
        print(outcome.describe() if not outcome.ok else f"ok: [{case.family}] {case.label}")
    print(f"{failed} of {len(cases)} cases went wrong")
    return 1 if failed else 0


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500, help="examples in all")
    parser.add_argument("--family", choices=sorted(FAMILIES), action="append")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--failures", type=Path, default=Path("fuzz-failures.jsonl"))
    parser.add_argument("--replay", type=Path, metavar="FILE")
    args = parser.parse_args(None if argv is None else list(argv))
    warm_up()
    with tempfile.TemporaryDirectory(prefix="specrunner-fuzz-") as scratch:
        folder = Path(scratch)
        if args.replay is not None:
            return replay(args.replay, folder)
        args.failures.unlink(missing_ok=True)
        tally = Tally(args.failures)
        families = args.family or sorted(FAMILIES)
        began = time.monotonic()
        for number, name in enumerate(families):
            share = args.examples // len(families) + (number < args.examples % len(families))
            before = tally.examples
            fuzz(FAMILIES[name], share, args.seed, lambda case: tally.add(run_forked(case, folder)))
            print(f"{name}: {tally.examples - before} examples", flush=True)
        tally.print(time.monotonic() - began)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
