"""Benchmark: the emulator keeps up with a client at 1,000 live runs.

    python bench/bench_emulator.py [--runs 1000] [--seconds 10] [--workers 4]

Starts `specrunner emulator` in its own process, creates --runs live runs (10 POSTs of
100 entries, each in a room of its own; calls last long enough to stay live), then polls
them with --workers concurrent clients, each sending bulk GETs of 100 run ids, for
--seconds. Prints the POST time, requests per second, latency percentiles and the
emulator process's CPU use. The issue's target: a few hundred requests a second at 1,000
live runs without the emulator being the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from emulated import start_emulator

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def create_runs(client: httpx.AsyncClient, count: int, headers: dict[str, str]) -> list[int]:
    ids: list[int] = []
    for start in range(0, count, 100):
        entries = [
            {
                "scenario": 30 + i % 5,
                "pipecat_room_url": f"https://specrunner-emulator.daily.co/room-{i}",
                "publish_data_message": {"run": i},
            }
            for i in range(start, min(start + 100, count))
        ]
        answer = await client.post(
            "/test_framework/v1/scenarios-external/run_scenarios_pipecat/",
            json={"scenarios": entries},
            headers=headers,
        )
        answer.raise_for_status()
        ids += [run["id"] for run in answer.json()["runs"]]
    return ids


async def poll(
    client: httpx.AsyncClient, ids: list[int], headers: dict[str, str], seconds: float, workers: int
) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    chunks = [ids[i : i + 100] for i in range(0, len(ids), 100)]

    async def worker(offset: int) -> None:
        n = offset
        while time.monotonic() < deadline:
            chunk = chunks[n % len(chunks)]
            n += 1
            began = time.perf_counter()
            answer = await client.get(
                "/test_framework/v2/runs/bulk/",
                params={"run_ids": ",".join(map(str, chunk))},
                headers=headers,
            )
            answer.raise_for_status()
            assert len(answer.json()) == len(chunk)
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker(i) for i in range(workers)))
    return latencies


async def measure(base_url: str, pid: int, args: argparse.Namespace) -> None:
    headers = {"X-CEKURA-API-KEY": "bench-key"}
    limits = httpx.Limits(max_connections=args.workers, max_keepalive_connections=args.workers)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        began = time.perf_counter()
        ids = await create_runs(client, args.runs, headers)
        created = time.perf_counter() - began
        await asyncio.sleep(0.5)  # past queue_seconds: the runs are running
        health = (await client.get("/_emulator/health")).json()
        cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
        latencies = await poll(client, ids, headers, args.seconds, args.workers)
        wall = time.perf_counter() - wall_before
        cpu = cpu_seconds(pid) - cpu_before
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(f"runs created: {len(ids)} in {created:.2f} s ({len(ids) / 100:.0f} POSTs of 100)")
    print(f"live runs while polling: {health['live_runs']}")
    print(
        f"bulk GETs (100 runs each): {len(latencies)} in {wall:.1f} s = "
        f"{len(latencies) / wall:.0f} requests/s with {args.workers} concurrent clients"
    )
    print(
        f"latency ms: p50 {pct(0.5):.1f}  p95 {pct(0.95):.1f}  p99 {pct(0.99):.1f}  "
        f"mean {statistics.fmean(latencies) * 1000:.1f}"
    )
    print(f"emulator CPU: {cpu:.1f} s over {wall:.1f} s = {100 * cpu / wall:.0f}% of one core")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    config = {
        "cekura": {"api_key": "bench-key", "defaults": {"duration": 3600}},
        "daily": {"rooms": [{"name": f"room-{i}"} for i in range(args.runs)]},
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "emulator.yaml")
        path.write_text(yaml.safe_dump(config))
        process, base_url = start_emulator(path)
        try:
            asyncio.run(measure(base_url, process.pid, args))
        finally:
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
