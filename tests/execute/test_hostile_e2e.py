"""`specrunner run`, the real CLI in a subprocess, against a hostile Cekura on 127.0.0.1
(issue 11): a poll answered one byte every 2 s (a slow loris) cannot hold a run past its
timeout, and a poll answer with a 100 MB transcript ends that run only, as an error naming
the cap, without specrunner reading 100 MB.

The hostile server is a small aiohttp application in a thread of the test; every wait is
bounded in count and time, and every subprocess has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from conftest import minimal_env

SUBMIT = "/test_framework/v1/scenarios-external/run_scenarios_pipecat/"
BULK = "/test_framework/v2/runs/bulk/"
MB = 1024 * 1024
Poll = Callable[["Hostile", web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hostile:
    """A Cekura that takes every run (ids 1000, 1001, ... by entry) and answers each poll
    with `poll`; `seen` lists the requests, `scenarios` each run's scenario."""

    poll: Poll
    seen: list[str] = field(default_factory=list)
    scenarios: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    async def submit(self, request: web.Request) -> web.Response:
        self.seen.append(f"POST {request.path}")
        body = await request.json()
        runs = []
        for entry in body["scenarios"]:
            run_id = 1000 + len(self.scenarios)
            self.scenarios[run_id] = entry["scenario"]
            runs.append({"id": run_id, "scenario": entry["scenario"], "status": "pending"})
        return web.json_response({"id": 7, "status": "pending", "runs": runs})

    async def bulk(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"GET {request.path}?{request.query_string}")
        return await self.poll(self, request)

    async def end_call(self, request: web.Request) -> web.Response:
        self.seen.append(f"POST {request.path}")
        return web.json_response({})


@contextlib.contextmanager
def serve(hostile: Hostile) -> Iterator[Hostile]:
    """`hostile` served on 127.0.0.1 from a thread of its own, until the block ends."""
    ready = threading.Event()

    async def main() -> None:
        app = web.Application()
        app.router.add_post(SUBMIT, hostile.submit)
        app.router.add_get(BULK, hostile.bulk)
        app.router.add_post("/test_framework/v2/runs/{id}/end_call/", hostile.end_call)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        hostile.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        ready.set()
        for _ in range(1800):  # 3 minutes at most
            if hostile.stop.is_set():
                break
            await asyncio.sleep(0.1)
        await runner.cleanup()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the hostile server did not start"
    try:
        yield hostile
    finally:
        hostile.stop.set()
        thread.join(15)


async def slow_loris(hostile: Hostile, request: web.Request) -> web.StreamResponse:
    """200 at once, then one byte (JSON whitespace) every 2 s, for 2 minutes at most."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        for _ in range(60):
            if hostile.stop.is_set():
                break
            await response.write(b" ")
            await asyncio.sleep(2)
        await response.write(b"[]")
    return response


async def slow_loris_once(hostile: Hostile, request: web.Request) -> web.StreamResponse:
    """The first poll is a slow loris; the others say every run passed."""
    if sum(1 for s in hostile.seen if s.startswith("GET ")) == 1:
        return await slow_loris(hostile, request)
    ids = [int(i) for i in request.query["run_ids"].split(",")]
    return web.json_response([run_object(i) for i in ids])


def run_object(run_id: int, transcript: str = "hello") -> dict[str, Any]:
    return {
        "id": run_id,
        "status": "completed",
        "success": True,
        "duration": "00:03",
        "transcript": transcript,
        "evaluation": {"metrics": [{"name": "m", "type": "numeric", "score": 1}]},
    }


async def huge_transcript(hostile: Hostile, request: web.Request) -> web.StreamResponse:
    """Every run completed and passed; the run of scenario 30 with a 100 MB transcript,
    streamed without a Content-Length (so the client must count what it reads)."""
    ids = [int(i) for i in request.query["run_ids"].split(",")]
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        small = [run_object(i) for i in ids if hostile.scenarios.get(i) != 30]
        big = [i for i in ids if hostile.scenarios.get(i) == 30]
        await response.write(json.dumps(small)[:-1].encode())
        for run_id in big:
            head = json.dumps(run_object(run_id, "<transcript>"))
            before, after = head.split("<transcript>")
            await response.write(((", " if small else "") + before).encode())
            for _ in range(100):
                if hostile.stop.is_set():
                    break
                await response.write(b"x" * MB)
            await response.write(after.encode())
        await response.write(b"]")
    return response


def suite(tmp_path: Path, scenarios: list[int], timeout: str) -> Path:
    rooms = [{"url": f"https://acme.daily.co/lab-{i}"} for i in range(len(scenarios))]
    data = {
        "version": 1,
        "name": "hostile",
        "rooms": {"lab": {"source": "static", "rooms": rooms}},
        "defaults": {"timeout": timeout},
        "scenarios": [{"id": s, "name": f"s{s}", "room": "lab"} for s in scenarios],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def specrunner_command() -> list[str]:
    """The console script of this environment (`.venv/bin/specrunner`)."""
    script = Path(sys.executable).with_name("specrunner")
    return [str(script)] if script.exists() else [sys.executable, "-m", "specrunner"]


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f} s\n{self.out}\n{self.err}"


def run_cli(command: list[str], cwd: Path, url: str, limit: float) -> Finished:
    env = {**minimal_env(), "CEKURA_API_KEY": "hostile-key", "CEKURA_API_URL": url}
    started = time.monotonic()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"no exit within {limit} s:\n{out}\n{err}") from None
    return Finished(process.returncode, out, err, time.monotonic() - started)


def results(cwd: Path) -> dict[str, Any]:
    (found,) = (cwd / ".specrunner" / "runs").glob("*/results.json")
    data: dict[str, Any] = json.loads(found.read_text())
    return data


def test_a_slow_loris_poll_cannot_hold_a_run_past_its_timeout(tmp_path: Path) -> None:
    path = suite(tmp_path, [30], timeout="8s")
    with serve(Hostile(slow_loris)) as hostile:
        done = run_cli([*specrunner_command(), "run", str(path)], tmp_path, hostile.url, 90)
        seen = list(hostile.seen)
    # the run's timeout (8 s) + the poll interval (1 s) + the executor's margin (2 s), and
    # a few seconds to end the call and write the reports
    assert done.seconds <= 25, done
    assert done.code == 1, done  # the run is an error: its cell fails; never 4
    (run,) = results(tmp_path)["runs"]
    assert run["outcome"] == "error", run
    assert run["error"] == "timed out after 8 s; its call was ended", run
    assert f"POST /test_framework/v2/runs/{run['run_id']}/end_call/" in seen, seen
    assert sum(1 for s in seen if s.startswith(f"GET {BULK}")) >= 1


def test_a_slow_loris_poll_gives_up_at_its_deadline_and_the_next_poll_goes_on(
    tmp_path: Path,
) -> None:
    # The run's timeout is far: only the poll's own deadline (15 s) ends the slow poll,
    # which would otherwise last 2 minutes.
    path = suite(tmp_path, [30], timeout="5m")
    with serve(Hostile(slow_loris_once)) as hostile:
        done = run_cli([*specrunner_command(), "run", str(path)], tmp_path, hostile.url, 90)
        polls = [s for s in hostile.seen if s.startswith("GET ")]
    assert done.code == 0, done
    # the slow poll was given up at its deadline, and tried again at once (the poll's retry)
    assert 15 <= done.seconds <= 30, done
    assert len(polls) == 2, polls
    (run,) = results(tmp_path)["runs"]
    assert run["outcome"] == "passed", run


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory from /proc")
def test_a_100_mb_transcript_ends_its_own_run_and_is_not_read(tmp_path: Path) -> None:
    path = suite(tmp_path, [30, 31], timeout="1m")
    peak_file = tmp_path / "peak-rss-kib"
    # The CLI, reporting its own peak memory when it exits: VmHWM, not ru_maxrss, which
    # Linux carries over from the process that forked it (pytest, large by now).
    wrapper = (
        "import atexit, sys\n"
        "peak = sys.argv.pop(1)\n"
        "def report():\n"
        "    status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "    with open(peak, 'w') as out:\n"
        "        out.write(status)\n"
        "atexit.register(report)\n"
        "from specrunner.cli import main\n"
        "sys.argv[0] = 'specrunner'\n"
        "main()\n"
    )
    command = [sys.executable, "-c", wrapper, str(peak_file), "run", str(path)]
    with serve(Hostile(huge_transcript)) as hostile:
        done = run_cli([*command, "--batch-size", "2"], tmp_path, hostile.url, 90)
    assert done.code == 1, done  # scenario 30's cell fails; never 4
    runs = {r["scenario_id"]: r for r in results(tmp_path)["runs"]}
    assert runs[31]["outcome"] == "passed", runs[31]
    assert runs[30]["outcome"] == "error", runs[30]
    assert runs[30]["error"] == (
        f"Cekura's answer for run {runs[30]['run_id']} is over 32 MiB, the most specrunner "
        "reads of one answer"
    )
    peak_mib = int(peak_file.read_text()) / 1024  # in kB
    # Reading the whole answer peaked at about 545 MiB (100 MB as bytes, text and JSON, then
    # in the reports: 200 MB on disk). Capped, at most 32 MiB of it is read, then dropped:
    # about 110 MiB, of which some 45 for any run.
    assert peak_mib < 250, f"peak RSS {peak_mib:.0f} MiB\n{done}"
