"""Benchmark: the emulator's memory stays flat over 100,000 runs in one session.

    python bench/bench_emulator_memory.py [--runs 100000] [--batch 100] [--every 10000]
                                          [--unbounded]

Starts an in-process emulator (fast profile, a clock the benchmark moves) and drives
--runs runs through it over loopback HTTP with httpx, in batches of --batch: half of each
batch in Daily rooms (created, a bot started with /bot/start, deleted after the run), half
in Pipecat Cloud sessions (createDailyRoom, stopped after the run). Each batch is one run
POST, then the clock moves past the calls and one bulk GET reads every run final. Every
--every runs it prints the process's resident memory and what the emulator holds.

--unbounded keeps everything (ledger_details and keep_finished of 10**9), to show what the
window saves.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from specrunner.emulator import Behaviour, Emulator, EmulatorConfig, ManualClock, ScriptedOutcome

CEKURA = {"X-CEKURA-API-KEY": "specrunner-emulator-key"}
DAILY = {"Authorization": "Bearer daily"}
PUBLIC = {"Authorization": "Bearer pk_bench"}
PRIVATE = {"Authorization": "Bearer sk_bench"}
RUN = "/test_framework/v2/scenarios/run_scenarios_pipecat/"
BULK = "/test_framework/v2/runs/bulk/"
FINAL = {"completed", "failed", "timeout", "cancelled"}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def daily_room(client: httpx.AsyncClient, wall: float) -> tuple[str, str, str]:
    exp = int(wall) + 7200  # two hours on the emulator's clock, which the benchmark moves
    room = await client.post(
        "/v1/rooms", json={"privacy": "private", "properties": {"exp": exp}}, headers=DAILY
    )
    room.raise_for_status()
    name, url = room.json()["name"], room.json()["url"]
    token = await client.post(
        "/v1/meeting-tokens", json={"properties": {"room_name": name, "exp": exp}}, headers=DAILY
    )
    token.raise_for_status()
    value = token.json()["token"]
    bot = await client.post("/bot/start", json={"room_url": url, "token": value})
    bot.raise_for_status()
    return name, url, value


async def pipecat_room(client: httpx.AsyncClient) -> tuple[str, str, str]:
    started = await client.post(
        "/v1/public/bench-bot/start",
        json={"createDailyRoom": True, "body": {"bench": True}},
        headers=PUBLIC,
    )
    started.raise_for_status()
    answer = started.json()
    return answer["sessionId"], answer["dailyRoom"], answer["dailyToken"]


async def batch(emulator: Emulator, client: httpx.AsyncClient, size: int, first: int) -> None:
    clock = emulator.clock
    assert isinstance(clock, ManualClock)
    wall = emulator.app.daily.wall(clock.now())
    half = size // 2
    rooms = await asyncio.gather(
        *(daily_room(client, wall) for _ in range(half)),
        *(pipecat_room(client) for _ in range(size - half)),
    )
    entries: list[dict[str, Any]] = [
        {
            "scenario": 1 + (first + i) % 5,
            "pipecat_room_url": url,
            "pipecat_token": token,
            "publish_data_message": {"run": first + i},
        }
        for i, (_, url, token) in enumerate(rooms)
    ]
    posted = await client.post(RUN, json={"scenarios": entries}, headers=CEKURA)
    posted.raise_for_status()
    ids = [run["id"] for run in posted.json()["runs"]]
    clock.advance(10.0)  # past queue, call and evaluation of the fast profile
    polled = await client.get(BULK, params={"run_ids": ",".join(map(str, ids))}, headers=CEKURA)
    polled.raise_for_status()
    runs = polled.json()
    assert len(runs) == len(ids) and all(r["status"] in FINAL for r in runs), runs[:1]
    assert all(r["executed_at"] is not None for r in runs), "a run found no agent"
    await asyncio.gather(
        *(client.delete(f"/v1/rooms/{name}", headers=DAILY) for name, _, _ in rooms[:half]),
        *(
            client.delete(f"/v1/agents/bench-bot/sessions/{session}", headers=PRIVATE)
            for session, _, _ in rooms[half:]
        ),
    )


def holding(emulator: Emulator) -> str:
    app = emulator.app
    with app.lock:
        return (
            f"runs {len(app.simulation.runs):>6}  results {len(app.simulation.results):>5}  "
            f"rooms {len(app.daily.rooms):>6}  sessions {len(app.pipecat.sessions):>6}  "
            f"ledger requests {len(app.ledger.requests):>6} of {app.ledger.requests.total}"
        )


async def drive(emulator: Emulator, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=emulator.base_url, limits=limits, timeout=30) as client:
        began = time.perf_counter()
        done = 0
        print(f"{'runs':>7}  {'RSS MiB':>8}  {'s':>6}  what the emulator holds", flush=True)
        print(f"{done:>7}  {rss_mib():>8.1f}  {0.0:>6.1f}  {holding(emulator)}", flush=True)
        while done < args.runs:
            size = min(args.batch, args.runs - done)
            await batch(emulator, client, size, done)
            done += size
            if done % args.every == 0 or done == args.runs:
                gc.collect()
                elapsed = time.perf_counter() - began
                line = f"{done:>7}  {rss_mib():>8.1f}  {elapsed:>6.1f}  {holding(emulator)}"
                print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--unbounded", action="store_true")
    args = parser.parse_args()
    keep = 10**9 if args.unbounded else 10_000
    config = EmulatorConfig(
        defaults=Behaviour(outcome=ScriptedOutcome.PASSED),
        pipecat_capacity=10_000,
        daily_rate_limit=False,
        ledger_details=keep,
        keep_finished=keep,
    )
    with Emulator(config, clock=ManualClock()) as emulator:
        asyncio.run(drive(emulator, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
