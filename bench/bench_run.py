"""Benchmark: `specrunner run` against the ideal wall time, beside a naive SDK-style script.

    python bench/bench_run.py                       # the grid below, 3 repetitions each
    python bench/bench_run.py --quick               # 200 and 1,000 runs, once each
    python bench/bench_run.py --cases 200,1000 --repeat 5 --json out.json
    python bench/bench_run.py --cases 10000 --repeat 1 --no-baseline --profile prof/

The grid (runs x call, on a static pool of that many rooms, `--concurrency` = rooms):

    200 x 2 s on 50 rooms         1,000 x 1 s on 100 rooms
    2,000 x 0.5 s on 200 rooms    10,000 x 0.2 s on 1,000 rooms

Each case runs at the default poll interval (1 s) and at `--poll-interval 0.25`, with the
default `--submissions` (one per 50 rooms, from 4 to 32) and `--batch-size` (10). Every
command gets a fresh emulator in its own process, with queueing and evaluation set to
zero (a run takes exactly its call) and the runs of each POST's answer shuffled
(`reply_order: shuffled`). The suite has runs / 20 scenarios repeated 20 times, each
run's payload carrying its run key.

The figures, per case and poll interval (min / median / max over the repetitions):
- wall: of the whole command (interpreter start to exit);
- ideal: ceil(runs / rooms) x call, the waves alone; start-up (from the command's start to
  its first POST, as the emulator saw it: interpreter, imports, planning, the first
  leases) is its own column, and "x ideal after start-up" is (median wall - median
  start-up) / ideal;
- CPU: user + system seconds of the specrunner process itself, and peak memory (its
  ru_maxrss), both from `os.wait4` on that process, which a small process of the
  benchmark's starts (`spawner.py`: so that the benchmark's own memory, grown by the
  ledgers it reads, is not counted in the command's peak);
- POSTs and GETs per run, counted from the emulator's ledger (every request it answered),
  and the emulator's own CPU seconds (from /proc) while the command ran;
- exactly once: the ledger holds one run per planned run key, none twice, none missing.

The naive baseline does what a script on Cekura's SDK does: submit a wave of `rooms` runs
in one POST, poll its result every 5 s until it is done, then the next wave. It runs in a
process of its own, measured the same way.

To measure another tree (a commit exported with `git archive`, say), put it first on
PYTHONPATH: `PYTHONPATH=/tmp/other python bench/bench_run.py ...` (the emulator and every
command then come from it). Before anything is measured, that tree is compiled to
bytecode (`bench/compiled.py`), as pip compiles an installed specrunner: the start-up
measured is an installed one's, not that of a source tree compiled again by every command
(as PYTHONDONTWRITEBYTECODE would have it: about 0.2 s more).

Targets (marked beside the figures; the exit code is 0 whatever they say, 1 only when a
command failed or a run was created twice or not at all):
- 2,000 x 0.5 s on 200 rooms, poll 0.25 s: median wall at most 1.2x ideal;
- 1,000 x 1 s on 100 rooms, poll 1 s: median wall at most 1.3x ideal;
- 10,000 x 0.2 s on 1,000 rooms: median CPU at most 3 s and peak memory under 200 MB (at
  both intervals), median wall within 2x ideal (at 0.25 s, as in the issue's grid).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from compiled import compile_tree
from emulated import Emulated, emulator
from spawner import Spawner

KEY = "bench-key"
REPEAT = 20
"""Runs per scenario: a case of N runs has N / 20 scenarios."""
NAIVE_POLL = 5.0
POLLS = (1.0, 0.25)
LIMIT = 900.0
"""Seconds a command may take before it is killed."""


@dataclass(frozen=True, slots=True)
class Case:
    runs: int
    call: float
    rooms: int

    @property
    def ideal(self) -> float:
        return math.ceil(self.runs / self.rooms) * self.call

    @property
    def name(self) -> str:
        return f"{self.runs:,} x {self.call:g} s, {self.rooms:,} rooms"


GRID = {
    case.runs: case
    for case in (
        Case(200, 2.0, 50),
        Case(1000, 1.0, 100),
        Case(2000, 0.5, 200),
        Case(10000, 0.2, 1000),
    )
}
QUICK = (200, 1000)


@dataclass(slots=True)
class Usage:
    """What one command cost: its wall, its own CPU seconds and peak memory, its exit."""

    wall: float
    cpu: float
    peak_mb: float
    code: int


@dataclass(slots=True)
class Sample:
    """One measured command and the traffic the emulator saw from it."""

    wall: float
    cpu: float
    peak_mb: float
    code: int
    posts: int
    gets: int
    created: int
    """Runs the emulator created."""
    emulator_cpu: float
    first_post: float | None = None
    """Seconds from the command's start to its first POST, as the emulator saw it."""
    tail: float | None = None
    """Seconds from the last Cekura request answered to the command's exit."""
    exactly_once: bool | None = None
    """Each planned run key created once (None: not checked, for the naive script)."""
    problem: str | None = None
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Row:
    case: Case
    who: str
    """`specrunner` or `naive`."""
    poll: float
    samples: list[Sample] = field(default_factory=list)
    startups: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    """Measurements that could not be made (the emulator did not start, ...)."""

    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]

    def median(self, pick: Callable[[Sample], float]) -> float:
        return statistics.median(pick(s) for s in self.samples)

    def ratio(self) -> float:
        return self.median(lambda s: s.wall) / self.case.ideal

    def startup(self) -> float | None:
        return statistics.median(self.startups) if self.startups else None


# -- what runs


def emulator_config(case: Case) -> dict[str, Any]:
    return {
        "seed": 0,
        "cekura": {
            "api_key": KEY,
            "queue_seconds": 0,
            "evaluation_seconds": 0,
            "reply_order": "shuffled",
            "defaults": {"duration": case.call, "pass_probability": 1.0},
        },
        "daily": {"rooms": [{"name": f"lab-{i}"} for i in range(case.rooms)]},
    }


def suite(case: Case) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "bench-run",
        "rooms": {
            "lab": {
                "source": "static",
                "rooms": [
                    {"url": f"https://specrunner-emulator.daily.co/lab-{i}"}
                    for i in range(case.rooms)
                ],
            }
        },
        "defaults": {"repeat": REPEAT, "publish_data_message": {"run_key": "{{ run.key }}"}},
        "scenarios": [
            {"id": 30 + i, "name": f"s{i}"} for i in range(math.ceil(case.runs / REPEAT))
        ],
    }


SPAWNER = Spawner()
"""Starts every measured command (see spawner.py: so that its peak memory is its own)."""


def measure(command: Sequence[str], env: dict[str, str], cwd: Path, log: Path) -> Usage:
    """Run the command; its wall, and its own CPU and peak memory from `os.wait4` (a
    command still going after LIMIT seconds is killed, and fails)."""
    used = SPAWNER.run(command, env, cwd, log, LIMIT)
    return Usage(
        wall=used["wall"],
        cpu=used["cpu"],
        peak_mb=used["peak_kib"] * 1024 / 1e6,
        code=used["code"],
    )


def specrunner_command(case: Case, poll: float, suite_path: Path) -> list[str]:
    return [
        "-m",
        "specrunner",
        "run",
        str(suite_path),
        "--concurrency",
        str(case.rooms),
        "--poll-interval",
        f"{poll:g}",
    ]


def traffic(ledger: dict[str, Any]) -> tuple[int, int]:
    """Cekura POSTs (submissions) and GETs (polls, results) the emulator answered."""
    posts = sum(r["endpoint"] == "cekura.run" for r in ledger["requests"])
    gets = sum(
        r["method"] == "GET" and r["endpoint"].startswith("cekura.") for r in ledger["requests"]
    )
    return posts, gets


def timeline(ledger: dict[str, Any], wall: float) -> tuple[float | None, float | None]:
    """The first POST and the tail after the last Cekura request, timed from the mark made
    just before the command started."""
    marks = [r["at"] for r in ledger["requests"] if r["path"] == "/_bench/mark"]
    posts = [r["at"] for r in ledger["requests"] if r["endpoint"] == "cekura.run"]
    cekura = [r["at"] for r in ledger["requests"] if r["endpoint"].startswith("cekura.")]
    if not marks or not posts:
        return None, None
    return min(posts) - marks[0], wall - (max(cekura) - marks[0])


def truncated(ledger: dict[str, Any]) -> str | None:
    """Why the ledger cannot be counted on: an emulator that keeps the details of only its
    last entries (and counts all of them in `totals`) dropped some."""
    totals = ledger.get("totals") or {}
    for name in ("requests", "runs"):
        if totals.get(name, 0) > len(ledger[name]):
            return (
                f"the emulator's ledger kept {len(ledger[name])} of {totals[name]} {name}: "
                "counts and the exactly-once check are incomplete"
            )
    return None


def exactly_once(ledger: dict[str, Any], planned: set[str]) -> tuple[bool | None, str | None]:
    """Whether the emulator created one run per planned run key, none twice or unknown
    (None: the ledger does not say)."""
    gap = truncated(ledger)
    if gap is not None:
        return None, gap
    keys = Counter(str((r["publish_data_message"] or {}).get("run_key")) for r in ledger["runs"])
    twice = sorted(k for k, n in keys.items() if n > 1)
    missing = planned - set(keys)
    unplanned = set(keys) - planned
    problems = []
    if twice:
        problems.append(f"{len(twice)} run key(s) created twice (e.g. {twice[0]})")
    if missing:
        problems.append(f"{len(missing)} planned run(s) never created")
    if unplanned:
        problems.append(f"{len(unplanned)} run(s) of no planned key")
    return not problems, "; ".join(problems) or None


def under_emulator(
    case: Case, folder: Path, command: Callable[[Emulated], tuple[list[str], dict[str, str]]]
) -> tuple[Usage, float, dict[str, Any]]:
    """Run the command made for a fresh emulator of `case`: its usage, the emulator's CPU
    seconds meanwhile, and the emulator's ledger."""
    with emulator(emulator_config(case), folder) as emu:
        argv, env = command(emu)
        before = emu.cpu_seconds()
        emu.mark()
        usage = measure(argv, env, folder, folder / "log")
        return usage, emu.cpu_seconds() - before, emu.ledger()


def sample_of(usage: Usage, emulator_cpu: float, ledger: dict[str, Any], **checked: Any) -> Sample:
    """The figures of one measured command, with what was `checked` of its outcome."""
    posts, gets = traffic(ledger)
    first_post, tail = timeline(ledger, usage.wall)
    return Sample(
        wall=usage.wall,
        cpu=usage.cpu,
        peak_mb=usage.peak_mb,
        code=usage.code,
        posts=posts,
        gets=gets,
        created=len(ledger["runs"]),
        emulator_cpu=emulator_cpu,
        first_post=first_post,
        tail=tail,
        **checked,
    )


def run_specrunner(
    case: Case, poll: float, work: Path, suite_path: Path, profile: Path | None, tag: str
) -> Sample:
    folder = work / tag
    folder.mkdir()
    python = [sys.executable]
    if profile is not None:
        python += ["-m", "cProfile", "-o", str(profile / f"{tag}.prof")]

    def command(emu: Emulated) -> tuple[list[str], dict[str, str]]:
        env = {**os.environ, "CEKURA_API_URL": emu.base_url, "CEKURA_API_KEY": KEY}
        return [*python, *specrunner_command(case, poll, suite_path)], env

    usage, emulator_cpu, ledger = under_emulator(case, folder, command)
    found = list(folder.glob(".specrunner/runs/*/results.json"))
    problem = None
    outcomes: dict[str, int] = {}
    once: bool | None = False
    if not found:
        problem = "no results.json"
    else:
        results = json.loads(found[0].read_text())
        outcomes = {k: v for k, v in results["verdict"]["outcomes"].items() if v}
        once, problem = exactly_once(ledger, {r["key"] for r in results["runs"]})
    if usage.code != 0:
        said = (folder / "log").read_text(errors="replace").strip().splitlines()[-3:]
        problem = "; ".join(filter(None, [problem, f"exit {usage.code}: " + " | ".join(said)]))
    elif outcomes != {"passed": case.runs}:
        problem = "; ".join(filter(None, [problem, f"outcomes {outcomes}"]))
    shutil.rmtree(folder / ".specrunner", ignore_errors=True)
    return sample_of(
        usage, emulator_cpu, ledger, exactly_once=once, problem=problem, outcomes=outcomes
    )


def run_naive(case: Case, work: Path, tag: str) -> Sample:
    folder = work / tag
    folder.mkdir()

    def command(emu: Emulated) -> tuple[list[str], dict[str, str]]:
        script = str(Path(__file__).resolve())
        argv = [sys.executable, script, "--naive-child", emu.base_url]
        return [*argv, str(case.runs), str(case.rooms)], dict(os.environ)

    usage, emulator_cpu, ledger = under_emulator(case, folder, command)
    problem = None
    if usage.code != 0:
        problem = f"exit {usage.code}: see {folder / 'log'}"
    elif truncated(ledger) is not None:
        problem = truncated(ledger)
    elif len(ledger["runs"]) != case.runs:
        problem = f"{len(ledger['runs'])} runs created"
    return sample_of(usage, emulator_cpu, ledger, problem=problem)


def naive(base_url: str, runs: int, rooms: int) -> int:
    """Waves of `rooms` runs, one POST each, each polled every 5 s through its result until
    it is done, as a script waits with Cekura's SDK. (Runs in its own process.)"""
    scenarios = math.ceil(runs / REPEAT)
    with httpx.Client(base_url=base_url, headers={"X-CEKURA-API-KEY": KEY}, timeout=60) as client:
        for start in range(0, runs, rooms):
            entries = [
                {
                    "scenario": 30 + (start + i) % scenarios,
                    "pipecat_room_url": f"https://specrunner-emulator.daily.co/lab-{i}",
                    "publish_data_message": {"run": start + i},
                }
                for i in range(min(rooms, runs - start))
            ]
            answer = client.post(
                "/test_framework/v1/scenarios-external/run_scenarios_pipecat/",
                json={"scenarios": entries},
            )
            answer.raise_for_status()
            result = answer.json()["id"]
            while True:
                time.sleep(NAIVE_POLL)
                status = client.get(f"/test_framework/v1/results/{result}/").json()["status"]
                if status in ("completed", "failed"):
                    break
    return 0


# -- the table


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def targets(row: Row) -> list[tuple[str, bool]]:
    """The issue's targets for this row: (what, met)."""
    if row.who != "specrunner" or not row.samples:
        return []
    runs, ratio = row.case.runs, row.ratio()
    if runs == 2000 and row.poll == 0.25:
        return [(f"wall ≤ 1.2× ideal ({ratio:.2f}×)", ratio <= 1.2)]
    if runs == 1000 and row.poll == 1.0:
        return [(f"wall ≤ 1.3× ideal ({ratio:.2f}×)", ratio <= 1.3)]
    if runs == 10000:
        cpu = row.median(lambda s: s.cpu)
        peak = max(s.peak_mb for s in row.samples)
        marks = [
            (f"CPU ≤ 3 s ({cpu:.1f} s)", cpu <= 3.0),
            (f"peak < 200 MB ({peak:.0f} MB)", peak < 200),
        ]
        if row.poll == 0.25:  # (the grid measures this case's wall at 0.25 s)
            marks.append((f"wall ≤ 2× ideal ({ratio:.2f}×)", ratio <= 2.0))
        return marks
    return []


def optional(row: Row, pick: Callable[[Sample], float | None]) -> str:
    values = [v for v in map(pick, row.samples) if v is not None]
    return f"{statistics.median(values):.2f}" if values else "–"


def spread(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


HEADER = (
    "| case | who | poll s | wall s (min / med / max) | ideal s | × ideal | start-up s "
    "| × ideal after start-up | tail s | CPU s | peak MB | POSTs / run "
    "| GETs / run | exactly once | emulator CPU s | targets |"
)


LEGEND = """
ideal: ceil(runs / rooms) x call. start-up: from the command's start to its first
submission (its first POST), as the emulator saw it. tail: from the
last Cekura request to the command's exit. CPU and peak memory: of the command's own
process (os.wait4). GETs: bulk polls (specrunner) or result polls (the naive script)."""


def table_row(row: Row) -> str:
    case, samples = row.case, row.samples
    if row.who == "naive":
        who, poll = "naive script", f"{NAIVE_POLL:g} (result)"
    else:
        who, poll = "specrunner", f"{row.poll:g}"
    if not samples:
        failed = "failed: " + "; ".join(row.failures)
        return f"| {case.name} | {who} | {poll} |" + " – |" * 10 + f" {failed} | – | – |"
    startup = row.startup()
    wall = row.median(lambda s: s.wall)
    start = "–" if startup is None else f"{startup:.2f}"
    net = "–" if startup is None else f"{(wall - startup) / case.ideal:.2f}×"
    once = "–"
    if row.who != "naive":
        checked = [s.exactly_once for s in samples]
        once = "?" if None in checked else mark(all(checked))
    problems = sorted({s.problem for s in samples if s.problem} | set(row.failures))
    if problems:
        once += " " + "; ".join(problems)
    marks = "; ".join(f"{what} {mark(ok)}" for what, ok in targets(row)) or "–"
    cells = [
        case.name,
        who,
        poll,
        spread(row.walls()),
        f"{case.ideal:g}",
        f"{row.ratio():.2f}×",
        start,
        net,
        optional(row, lambda s: s.tail),
        f"{row.median(lambda s: s.cpu):.2f}",
        f"{max(s.peak_mb for s in samples):.0f}",
        f"{row.median(lambda s: s.posts) / case.runs:.3f}",
        f"{row.median(lambda s: s.gets) / case.runs:.3f}",
        once,
        f"{row.median(lambda s: s.emulator_cpu):.2f}",
        marks,
    ]
    return "| " + " | ".join(cells) + " |"


def reference_seconds() -> float:
    """CPU seconds of a fixed piece of Python work like specrunner's (JSON in and out,
    dicts), the least of three tries. A shared machine's speed drifts (by a fifth and more
    within an hour on the 2-core machine the docs were measured on): figures taken when
    this differs are not comparable."""
    sample = {
        "id": 1001,
        "status": "completed",
        "transcript": "Testing Agent: Hi. " * 20,
        "metrics": [{"name": f"metric {i}", "score": i, "explanation": ["ok"]} for i in range(8)],
    }
    tries = []
    for _ in range(3):
        start = time.process_time()
        for _ in range(8000):
            data = json.loads(json.dumps(sample))
            {key: data[key] for key in sample}
        tries.append(time.process_time() - start)
    return min(tries)


def markdown(
    rows: list[Row], repeat: int, profiled: bool, load: tuple[float, ...], speed: list[float]
) -> str:
    lines = [
        f"`specrunner run` against the emulator, {repeat} repetition(s) per row"
        f"{' (under cProfile: CPU and wall inflated)' if profiled else ''}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at the start; reference work "
        f"{' s, then '.join(f'{s:.3f}' for s in speed)} s of CPU (`reference_seconds`: "
        "lower is a faster machine). "
        "Medians unless said; peak memory is the largest of the repetitions.",
        "",
        HEADER,
        "|" + "---|" * HEADER.count(" | ") + "---|",
    ]
    lines += [table_row(row) for row in rows if row.samples or row.failures]
    return "\n".join(lines)


def write_json(
    path: Path, rows: list[Row], load: tuple[float, ...], speed: list[float], *, profiled: bool
) -> None:
    """Every figure so far (written after each measurement, so a crash loses none)."""
    data = {
        "cpus": os.cpu_count(),
        "load_average": [load, os.getloadavg()],
        "reference_seconds": speed,
        "profiled": profiled,
        "rows": [
            {
                "case": asdict(row.case),
                "ideal": row.case.ideal,
                "who": row.who,
                "poll": row.poll,
                "startups": row.startups,
                "samples": [asdict(s) for s in row.samples],
                "failures": row.failures,
                "targets": [{"what": w, "met": ok} for w, ok in targets(row)],
            }
            for row in rows
        ],
    }
    path.write_text(json.dumps(data, indent=1))


def print_profiles(folder: Path, top: int) -> None:
    for path in sorted(folder.glob("*.prof")):
        for order in ("cumulative", "tottime"):
            print(f"\n### {path.name}: top {top} by {order}\n\n```text")
            stats = pstats.Stats(str(path), stream=sys.stdout)
            stats.strip_dirs().sort_stats(order).print_stats(top)
            print("```")


# -- main


def choose(args: argparse.Namespace) -> list[Case]:
    if args.quick:
        return [GRID[n] for n in QUICK]
    if not args.cases:
        return list(GRID.values())
    chosen = []
    for part in args.cases.split(","):
        runs = int(part.strip().replace("_", ""))
        if runs not in GRID:
            raise SystemExit(
                f"--cases: {runs} is not a case (choose from {', '.join(map(str, GRID))})"
            )
        chosen.append(GRID[runs])
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        help="the cases by their runs: 200, 1000, 2000, 10000 (e.g. 200,1000; default: all)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of each row")
    parser.add_argument("--quick", action="store_true", help="200 and 1,000 runs, once each")
    parser.add_argument(
        "--poll-intervals",
        default=",".join(f"{p:g}" for p in POLLS),
        help="the poll intervals to run each case at (default: 1,0.25)",
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive script")
    parser.add_argument("--json", metavar="PATH", help="also write every figure here")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="run each `specrunner run` under cProfile, write DIR/*.prof and print the tops",
    )
    parser.add_argument("--profile-top", type=int, default=25, help="functions per top")
    parser.add_argument("--naive-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_child:
        url, runs, rooms = args.naive_child
        return naive(url, int(runs), int(rooms))
    cases = choose(args)
    repeat = 1 if args.quick else args.repeat
    polls = [float(p) for p in args.poll_intervals.split(",")]
    profile = Path(args.profile).resolve() if args.profile else None
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()
    speed = [reference_seconds()]
    rows: list[Row] = []

    def save() -> None:
        if args.json:
            write_json(Path(args.json), rows, load, speed, profiled=profile is not None)

    try:
        grid(rows, cases, polls, repeat, baseline=not args.no_baseline, profile=profile, save=save)
    except KeyboardInterrupt:
        print("interrupted: the figures so far", file=sys.stderr)
    finally:
        SPAWNER.close()
    speed.append(reference_seconds())
    print(markdown(rows, repeat, profile is not None, load, speed))
    print(LEGEND)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    save()
    if profile is not None:
        print_profiles(profile, args.profile_top)
    failed = any(row.failures for row in rows) or any(
        s.code != 0 or s.exactly_once is False for row in rows for s in row.samples
    )
    return 1 if failed else 0


def grid(
    rows: list[Row],
    cases: Sequence[Case],
    polls: Sequence[float],
    repeat: int,
    *,
    baseline: bool,
    profile: Path | None,
    save: Callable[[], None],
) -> None:
    """Measure each case, repetitions interleaved (so drift in the machine's load spreads
    over every row); a measurement that fails is noted in its row and the grid goes on."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as temp:
        work = Path(temp)
        compile_tree(work)
        for case in cases:
            suite_path = work / f"suite-{case.runs}.yaml"
            suite_path.write_text(yaml.safe_dump(suite(case), sort_keys=False))
            mine = {poll: Row(case, "specrunner", poll) for poll in polls}
            base = Row(case, "naive", NAIVE_POLL)
            rows += [*mine.values(), *([base] if baseline else [])]
            for rep in range(1, repeat + 1):
                for poll in polls:
                    tag = f"{case.runs}-poll{poll:g}-{rep}"
                    try:
                        sample = run_specrunner(case, poll, work, suite_path, profile, tag)
                    except Exception as exc:
                        mine[poll].failures.append(f"#{rep}: {type(exc).__name__}: {exc}")
                        continue
                    mine[poll].samples.append(sample)
                    if sample.first_post is not None:
                        mine[poll].startups.append(sample.first_post)
                    note(case, f"poll {poll:g} s", rep, sample, sample.first_post)
                    save()
                if baseline:
                    try:
                        sample = run_naive(case, work, f"{case.runs}-naive-{rep}")
                    except Exception as exc:
                        base.failures.append(f"#{rep}: {type(exc).__name__}: {exc}")
                        continue
                    base.samples.append(sample)
                    note(case, "naive", rep, sample, None)
                    save()


def note(case: Case, what: str, rep: int, sample: Sample, startup: float | None) -> None:
    """One line per command as it ends, on stderr, so a long grid shows it is alive."""
    extra = "" if startup is None else f", start-up {startup:.2f} s"
    print(
        f"{case.name}, {what}, #{rep}: wall {sample.wall:.2f} s (ideal {case.ideal:g} s{extra}), "
        f"CPU {sample.cpu:.2f} s, peak {sample.peak_mb:.0f} MB, {sample.posts} POSTs, "
        f"{sample.gets} GETs{'' if sample.problem is None else ', ' + sample.problem}",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
