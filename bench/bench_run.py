"""Benchmark: how close `specrunner run` gets to the ideal wall time, beside a naive baseline.

    python bench/bench_run.py [--runs 200 --rooms 50 --call 2] [--no-baseline]

Larger suites: `--runs 1000 --rooms 100 --call 1 --no-baseline`. The CPU time of the
`specrunner run` process (user + system) is printed beside its wall time.

200 runs of 2 s each on 50 static rooms, `--concurrency 50 --poll-interval 0.25`, against
the emulator in its own process (queue and evaluation times set to zero, so a run takes
exactly its 2 s call). The ideal is start-up plus 4 waves x 2 s, where start-up is the wall
time of the same command with `--dry-run` (interpreter, imports, planning). The target:
within 15% of the ideal.

The baseline does what a script on Cekura's SDK does: submit a wave of 50, poll the result
every 5 s until it is done, then the next wave. It also counts requests: specrunner sends
at most one bulk request per 100 in-flight runs per tick.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from emulated import start_emulator

RUNS, ROOMS, CALL = 200, 50, 2.0
KEY = "bench-key"


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of the command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run(
        command, env=env, cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def baseline(base_url: str) -> tuple[float, int]:
    """Waves of 50, each polled every 5 s through its result, as Cekura's SDK waits."""
    headers = {"X-CEKURA-API-KEY": KEY}
    requests = 0
    began = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for wave in range(RUNS // ROOMS):
            entries = [
                {
                    "scenario": 30,
                    "pipecat_room_url": f"https://specrunner-emulator.daily.co/base-{i}",
                    "publish_data_message": {"wave": wave},
                }
                for i in range(ROOMS)
            ]
            answer = client.post(
                "/test_framework/v1/scenarios/run_scenarios_pipecat", json={"scenarios": entries}
            )
            answer.raise_for_status()
            requests += 1
            result = answer.json()["id"]
            for _ in range(100):
                time.sleep(5)
                requests += 1
                status = client.get(f"/test_framework/v1/results/{result}").json()["status"]
                if status in ("completed", "failed"):
                    break
    return time.perf_counter() - began, requests


def main() -> int:
    global RUNS, ROOMS, CALL
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=RUNS, help="runs (a multiple of 20)")
    parser.add_argument("--rooms", type=int, default=ROOMS, help="static rooms = concurrency")
    parser.add_argument("--call", type=float, default=CALL, help="seconds each call takes")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    args = parser.parse_args()
    RUNS, ROOMS, CALL = args.runs, args.rooms, args.call
    rooms = [f"lab-{i}" for i in range(ROOMS)] + [f"base-{i}" for i in range(ROOMS)]
    config = {
        "cekura": {
            "api_key": KEY,
            "queue_seconds": 0,
            "evaluation_seconds": 0,
            "defaults": {"duration": CALL, "pass_probability": 1.0},
        },
        "daily": {"rooms": [{"name": name} for name in rooms]},
    }
    suite = {
        "version": 1,
        "name": "bench-run",
        "rooms": {
            "lab": {
                "source": "static",
                "rooms": [
                    {"url": f"https://specrunner-emulator.daily.co/lab-{i}"} for i in range(ROOMS)
                ],
            }
        },
        "defaults": {"repeat": 20, "publish_data_message": {"run_key": "{{ run.key }}"}},
        "scenarios": [{"id": 30 + i, "name": f"s{i}"} for i in range(RUNS // 20)],
    }
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "emulator.yaml").write_text(yaml.safe_dump(config))
        (work / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))
        process, base_url = start_emulator(work / "emulator.yaml")
        try:
            env = {**os.environ, "CEKURA_API_URL": base_url, "CEKURA_API_KEY": KEY}
            command = [
                sys.executable,
                "-m",
                "specrunner",
                "run",
                "suite.yaml",
                "--concurrency",
                str(ROOMS),
                "--poll-interval",
                "0.25",
            ]
            startup = min(timed([*command, "--dry-run"], env, work)[0] for _ in range(3))
            wall, cpu = timed(command, env, work)
            ledger = httpx.get(f"{base_url}/_emulator/ledger").json()
            bulk = sum(r["endpoint"] == "cekura.bulk" for r in ledger["requests"])
            posts = sum(r["endpoint"] == "cekura.run" for r in ledger["requests"])
            results = json.loads(next(work.glob(".specrunner/runs/*/results.json")).read_text())
            naive, naive_requests = (0.0, 0) if args.no_baseline else baseline(base_url)
        finally:
            process.terminate()
            process.wait(timeout=10)
    waves = -(-RUNS // ROOMS)
    ideal = startup + waves * CALL
    print(f"runs: {results['verdict']['outcomes']}")
    print(
        f"start-up (--dry-run): {startup:.2f} s; ideal: {ideal:.2f} s "
        f"(start-up + {waves} waves x {CALL:g} s)"
    )
    print(
        f"specrunner run:  {wall:.2f} s = {100 * (wall / ideal - 1):+.1f}% of ideal "
        f"(target within +15%); {posts} POSTs, {bulk} bulk polls; CPU {cpu:.2f} s"
    )
    if not args.no_baseline:
        print(
            f"naive baseline:  {naive:.2f} s = {100 * (naive / ideal - 1):+.1f}% of ideal; "
            f"{naive_requests} requests"
        )
    return 0 if wall <= ideal * 1.15 else 1


if __name__ == "__main__":
    sys.exit(main())
