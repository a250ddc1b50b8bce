"""A hostile stand-in for Cekura: an aiohttp server on 127.0.0.1, in a thread of its own,
whose answers are odd, slow, huge, redirected or full of escape sequences.

One server serves many cases at once: each case has its own base URL
(`http://127.0.0.1:PORT/CASE`, what CEKURA_API_URL is set to) and its own `Answers`. The
server echoes each submission's scenarios back as runs numbered `RUN_BASE + scenario`, so a
fair answer always matches the entries, and it records every request by case. Large
bodies are streamed in chunks and slow ones a byte at a time, so the server itself stays
small in memory and never blocks; a client that hangs up ends the answer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

SUBMIT = "/test_framework/v1/scenarios-external/run_scenarios_pipecat/"
BULK = ("/test_framework/v2/runs/bulk/", "/test_framework/v1/runs/bulk/")
RUN_BASE = 1000
RESULT_ID = 7

Answer = Callable[[web.Request], Awaitable[web.StreamResponse]]


def run_id(scenario: int) -> int:
    return RUN_BASE + scenario


def polled_ids(request: web.Request) -> list[int]:
    raw = request.query.get("run_ids", "")
    return [int(part) for part in raw.split(",") if part.strip().isdigit()]


def raw_json(
    text: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """`text` as the body, as it is (so it may hold NaN, or be no JSON at all)."""
    return web.Response(status=status, text=text, content_type="application/json", headers=headers)


async def fair_submission(request: web.Request) -> web.Response:
    """Cekura's answer: a run for each entry, matched by scenario."""
    body = await request.json()
    runs = [
        {"id": run_id(int(entry["scenario"])), "scenario": int(entry["scenario"])}
        for entry in body["scenarios"]
    ]
    return raw_json(json.dumps({"id": RESULT_ID, "status": "pending", "runs": runs}))


async def runs_passed(request: web.Request) -> web.Response:
    answer = [
        {"id": i, "status": "completed", "success": True, "duration": "00:42"}
        for i in polled_ids(request)
    ]
    return raw_json(json.dumps(answer))


def fixed(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return raw_json(text, status, headers)

    return answer


def per_run(make: Callable[[int], str]) -> Answer:
    """A poll answer: a JSON list of `make(run id)` (JSON text each) for every polled run."""

    async def answer(request: web.Request) -> web.Response:
        return raw_json("[" + ", ".join(make(i) for i in polled_ids(request)) + "]")

    return answer


def trickle(body: bytes, every: float = 2.0) -> Answer:
    """200 with `body`, one byte every `every` seconds."""

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        for byte in body:
            await response.write(bytes([byte]))
            await asyncio.sleep(every)
        return response

    return answer


def huge(
    head: bytes, size: int, tail: bytes, *, chunked: bool = False, chunk: int = 1 << 20
) -> Answer:
    """200 with `head`, then `size` bytes of `x`, then `tail`, streamed in chunks of `chunk`
    bytes; with `chunked`, in chunked transfer encoding (no Content-Length to go by)."""

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = len(head) + size + len(tail)
        await response.prepare(request)
        await response.write(head)
        block = b"x" * chunk
        sent = 0
        while sent < size:
            part = block[: min(len(block), size - sent)]
            await response.write(part)
            sent += len(part)
        await response.write(tail)
        return response

    return answer


def redirect(to: Callable[[web.Request], str], status: int = 302) -> Answer:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=status, headers={"Location": to(request)})

    return answer


@dataclass(frozen=True, slots=True)
class Answers:
    """How a case's Cekura answers a submission and a poll (end-calls get `{}`)."""

    submit: Answer = fair_submission
    poll: Answer = runs_passed


@dataclass
class Seen:
    """The requests a case's Cekura got, as (method, path after the case's base URL)."""

    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def submissions(self) -> int:
        return sum(1 for method, path in self.requests if method == "POST" and path == SUBMIT)


class HostileCekura:
    """The server, as a context manager: `url(case)` is the case's CEKURA_API_URL."""

    def __init__(self, cases: Mapping[str, Answers]) -> None:
        self.cases = dict(cases)
        self.seen = {name: Seen() for name in cases}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._runner: web.AppRunner | None = None

    def url(self, case: str) -> str:
        return f"http://127.0.0.1:{self.port}/{case}"

    def __enter__(self) -> HostileCekura:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            cleanup.result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._sock.close()

    async def _start(self) -> None:
        app = web.Application(client_max_size=1 << 24)
        app.router.add_route("*", "/{case}/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        case = request.match_info["case"]
        answers = self.cases.get(case)
        if answers is None:
            return web.json_response({"detail": "Not found."}, status=404)
        path = request.path[len(case) + 1 :]
        self.seen[case].requests.append((request.method, path))
        try:
            if request.method == "POST" and path == SUBMIT:
                return await answers.submit(request)
            if request.method == "GET" and path in BULK:
                return await answers.poll(request)
            if request.method == "POST" and path.endswith("/end_call/"):
                return web.json_response({})
            return web.json_response({"detail": "Not found."}, status=404)
        except (ConnectionError, asyncio.CancelledError):  # the client hung up
            raise
        except Exception as error:  # a bug of this server: make it visible in the run
            return web.json_response({"detail": f"hostile server bug: {error!r}"}, status=599)
