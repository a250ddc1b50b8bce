"""Benchmark: the CPU one Cekura request costs specrunner, by HTTP client stack.

    python bench/bench_http_clients.py                  # 1,000 POSTs and 250 bulk GETs each
    python bench/bench_http_clients.py --requests 2000 --repeat 5

A 10,000-run suite on 1,000 rooms sends about 1,000 POSTs (batches of 10) and a few hundred
bulk GETs (100 runs each); `bench/bench_run.py` shows how much of its CPU goes to them. This
benchmark measures that cost alone, to weigh the HTTP stack against the issue's CPU target:

- `specrunner's requester (aiohttp)`: what the Cekura client does,
  `cekura_http.AiohttpRequester` over the session it makes (a whole answer within a
  deadline, read within the answer cap, failures sorted by whether anything was sent);
- `fetch (httpx)`: the same requests through `http_common.fetch` over an
  `httpx.AsyncClient` set up as `app/clients.py` sets up the room sources' (the Cekura
  client's stack until it moved to aiohttp).

The server runs in a process of its own (so its CPU is not counted) and answers each POST
with 10 Run objects and each GET with 100, of the size the emulator's are. Each row is the
client process's user + system CPU over its requests, 4 in flight at once, divided by the
requests sent: the median of the repetitions, after one warm-up round.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from specrunner.cekura_http import AiohttpRequester
from specrunner.http_common import fetch

IN_FLIGHT = 4
DEADLINE = 30.0


def run_object(run_id: int) -> dict[str, Any]:
    """A Run object about the size of the emulator's."""
    return {
        "id": run_id,
        "scenario": 30 + run_id % 500,
        "status": "completed",
        "success": True,
        "result": 9000 + run_id,
        "timestamp": "2026-12-02T10:00:00.000000Z",
        "duration": 0.2,
        "error_message": None,
        "evaluation": {"metrics": [{"name": "latency", "score": 1.0, "passed": True}]},
        "publish_data_message": {"run_key": f"s{run_id % 500}#{run_id % 20 + 1}"},
        "room_url": f"https://specrunner-emulator.daily.co/lab-{run_id % 1000}",
    }


SERVER = textwrap.dedent(
    """
    import json
    from aiohttp import web
    post = json.dumps([run_object(i) for i in range(10)]).encode()
    bulk = json.dumps([run_object(i) for i in range(100)]).encode()
    async def on_post(request):
        await request.read()
        return web.Response(body=post, content_type="application/json")
    async def on_get(request):
        return web.Response(body=bulk, content_type="application/json")
    async def main():
        app = web.Application()
        app.router.add_post("/runs", on_post)
        app.router.add_get("/runs", on_get)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        import asyncio
        await asyncio.Event().wait()
    import asyncio
    asyncio.run(main())
    """
)


def entries() -> list[dict[str, Any]]:
    """A batch of 10 entries as specrunner POSTs them."""
    return [
        {
            "scenario": 30 + i,
            "room_url": f"https://specrunner-emulator.daily.co/lab-{i}",
            "publish_data_message": {"run_key": f"s{i}#1"},
        }
        for i in range(10)
    ]


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(requests: int, send: Callable[[], Awaitable[None]]) -> float:
    """CPU milliseconds per request, `requests` of them, IN_FLIGHT at once."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with gate:
            await send()

    before = cpu()
    await asyncio.gather(*(one() for _ in range(requests)))
    return (cpu() - before) / requests * 1000


async def bench(url: str, posts: int, gets: int, repeat: int) -> dict[str, dict[str, float]]:
    body = {"scenarios": entries(), "agent": 7}
    headers = {"X-CEKURA-API-KEY": "bench-key", "Content-Type": "application/json"}
    bulk = {"run_ids": ",".join(str(i) for i in range(100))}
    rows: dict[str, dict[str, float]] = {}

    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(timeout=30.0, limits=limits, follow_redirects=False) as http:

        async def httpx_post() -> None:
            answer = await fetch(http, "POST", url, json=body, headers=headers, deadline=DEADLINE)
            answer.json()

        async def httpx_get() -> None:
            answer = await fetch(http, "GET", url, params=bulk, headers=headers, deadline=DEADLINE)
            answer.json()

        rows["fetch (httpx)"] = await rounds(posts, gets, repeat, httpx_post, httpx_get)

    async with AiohttpRequester.session(url) as session:
        requester = AiohttpRequester(session)

        async def aio_post() -> None:
            sent = json.dumps(body, separators=(",", ":")).encode()
            answer = await requester.request(
                "POST", url, body=sent, headers=headers, deadline=DEADLINE
            )
            answer.json()

        async def aio_get() -> None:
            answer = await requester.request(
                "GET", url, params=bulk, headers=headers, deadline=DEADLINE
            )
            answer.json()

        rows["specrunner's requester (aiohttp)"] = await rounds(
            posts, gets, repeat, aio_post, aio_get
        )
    return rows


async def rounds(
    posts: int,
    gets: int,
    repeat: int,
    post: Callable[[], Awaitable[None]],
    get: Callable[[], Awaitable[None]],
) -> dict[str, float]:
    await measure(min(posts, 50), post)  # warm-up: connections, caches
    await measure(min(gets, 20), get)
    post_ms = [await measure(posts, post) for _ in range(repeat)]
    get_ms = [await measure(gets, get) for _ in range(repeat)]
    return {"post_ms": statistics.median(post_ms), "get_ms": statistics.median(get_ms)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=1000, help="POSTs per round")
    parser.add_argument("--gets", type=int, default=250, help="bulk GETs per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per row")
    args = parser.parse_args()

    # The server builds its Run objects with run_object, sent over as source.
    code = "from typing import Any\n" + inspect.getsource(run_object) + SERVER
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}/runs"
        started = time.perf_counter()
        rows = asyncio.run(bench(url, args.requests, args.gets, args.repeat))
        took = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(
        f"CPU per request of this process, {IN_FLIGHT} in flight, median of {args.repeat} "
        f"rounds of {args.requests} POSTs (10 runs each) and {args.gets} GETs (100 runs each)\n"
    )
    print("| client | POST ms | GET ms | 1,000 POSTs + 250 GETs, s |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        total = (1000 * row["post_ms"] + 250 * row["get_ms"]) / 1000
        print(f"| {name} | {row['post_ms']:.3f} | {row['get_ms']:.3f} | {total:.2f} |")
    print(f"\n({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
