"""The emulator's HTTP server: one loopback port for Cekura, Pipecat Cloud and Daily.

It runs on aiohttp in a thread of its own, so tests and `specrunner run --emulator` can
start it in-process; `specrunner emulator` runs it in the foreground.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from aiohttp import web

from specrunner.emulator.cekura import Cekura, iso_clock
from specrunner.emulator.clock import Clock, RealClock
from specrunner.emulator.config import EmulatorConfig, Fault
from specrunner.emulator.daily import Daily, room_address, room_key
from specrunner.emulator.faults import FaultPlan
from specrunner.emulator.ledger import Ledger, RequestRecord
from specrunner.emulator.pipecat import PipecatCloud
from specrunner.emulator.replies import Incoming, Reply
from specrunner.emulator.runs import Simulation

Handler = Callable[[Incoming, dict[str, str], int, float], Reply]

_CEKURA_VERSIONS = r"/test_framework/(?:v1|v2)"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler
    service: str


class EmulatorApp:
    """The state of the three services, and the dispatch of requests to them."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.ledger = Ledger(lock=self.lock)
        wall_start = time.time()
        secret = f"specrunner-emulator:{config.seed}".encode()
        self.daily = Daily(config, self.ledger, secret, wall_start)
        for room in config.daily_rooms:
            self.daily.create(room.name, room.privacy, {}, 0.0, "config")
        self.pipecat = PipecatCloud(config, self.ledger, self.daily, Random(f"pc:{config.seed}"))
        self.simulation = Simulation(
            config,
            join_problem=self.daily.join_problem,
            call_ended=self._call_ended,
            room_key=room_key,
        )
        self.cekura = Cekura(config, self.ledger, self.simulation, iso_clock(wall_start))
        self.faults = FaultPlan(config.faults, config.seed)
        self._seq = 0
        self.routes = self._routes()

    def _call_ended(self, url: str, at: float) -> None:
        where = room_address(url)
        if where is not None:
            self.pipecat.call_ended(where[1], at)

    def sync(self) -> float:
        """Bring every service up to the clock's now (time moves only when asked); now."""
        with self.lock:
            now = self.clock.now()
            self.simulation.advance(now)
            self.pipecat.expire(now)
            return now

    def _routes(self) -> list[Route]:
        c, p, d = self.cekura, self.pipecat, self.daily

        def route(method: str, pattern: str, endpoint: str, handler: Handler) -> Route:
            return Route(
                method, re.compile(f"^{pattern}/?$"), endpoint, handler, endpoint.split(".")[0]
            )

        return [
            route(
                "POST",
                r"/test_framework/(?:v1/scenarios-external|v1/scenarios|v2/scenarios)"
                r"/run_scenarios_pipecat",
                "cekura.run",
                lambda r, _, seq, now: c.run_pipecat(r, seq, now),
            ),
            route(
                "GET",
                rf"{_CEKURA_VERSIONS}/runs(?:-external)?/bulk",
                "cekura.bulk",
                lambda r, _, seq, now: c.bulk(r, now),
            ),
            route(
                "GET",
                rf"{_CEKURA_VERSIONS}/results(?:-external)?/(?P<id>\d+)",
                "cekura.result",
                lambda r, a, seq, now: c.result(int(a["id"]), now),
            ),
            route(
                "POST",
                rf"{_CEKURA_VERSIONS}/results(?:-external)?/(?P<id>\d+)/end_calls",
                "cekura.end_calls",
                lambda r, a, seq, now: c.end_calls(int(a["id"]), now),
            ),
            route(
                "POST",
                rf"{_CEKURA_VERSIONS}/runs(?:-external)?/(?P<id>\d+)/end_call",
                "cekura.end_call",
                lambda r, a, seq, now: c.end_call(int(a["id"]), now),
            ),
            route(
                "POST",
                r"/v1/public/(?P<agent>[^/]+)/start",
                "pipecat.start",
                lambda r, a, seq, now: p.start(a["agent"], r, now),
            ),
            route(
                "DELETE",
                r"/v1/agents/(?P<agent>[^/]+)/sessions/(?P<session>[^/]+)",
                "pipecat.stop",
                lambda r, a, seq, now: p.stop(a["agent"], a["session"], r, now),
            ),
            route(
                "POST",
                r"/v1/rooms",
                "daily.create_room",
                lambda r, a, seq, now: d.create_room(r, now),
            ),
            route(
                "GET",
                r"/v1/rooms/(?P<name>[^/]+)",
                "daily.get_room",
                lambda r, a, seq, now: d.get_room(a["name"], now),
            ),
            route(
                "DELETE",
                r"/v1/rooms/(?P<name>[^/]+)",
                "daily.delete_room",
                lambda r, a, seq, now: d.delete_room(a["name"], now),
            ),
            route(
                "POST",
                r"/v1/meeting-tokens",
                "daily.create_token",
                lambda r, a, seq, now: d.create_token(r),
            ),
        ]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | Reply:
        allowed = []
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed.append(route.method)
        if allowed:
            return Reply(
                405, {"detail": f'Method "{method}" not allowed.'}, {"Allow": ", ".join(allowed)}
            )
        return Reply(404, {"detail": "Not found."})

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def answer(self, route: Route, args: dict[str, str], request: Incoming, seq: int) -> Reply:
        with self.lock:
            # Everything due before this request happens first, whichever service it is for.
            now = self.sync()
            if route.service == "cekura":
                refused = self.cekura.authenticate(request)
            elif route.service == "daily":
                refused = self.daily.authenticate(request) or self.daily.rate_limited(
                    route.endpoint, now
                )
            else:
                refused = None
            return refused or route.handler(request, args, seq, now)

    def record(
        self, seq: int, request: Incoming, endpoint: str, status: int | None, fault: str | None
    ) -> None:
        with self.lock:
            self.ledger.requests.append(
                RequestRecord(
                    seq=seq,
                    at=self.clock.now(),
                    method=request.method,
                    path=request.path,
                    endpoint=endpoint,
                    status=status,
                    fault=fault,
                )
            )


def fault_reply(service: str, status: int, retry_after: float | None) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    if service == "pipecat":
        body: Any = {
            "error": "Service unavailable" if status != 429 else "Too many requests",
            "code": str(status),
        }
        if status == 429:
            body = {
                "status": 429,
                "code": "429",
                "message": "Rate limit exceeded. Please try again later",
            }
    elif service == "daily":
        body = {
            "error": "rate-limit-error" if status == 429 else "server-error",
            "info": "injected by the emulator",
        }
    else:
        body = {"detail": "Request was throttled." if status == 429 else "A server error occurred."}
    return Reply(status, body, headers)


def _describe(fault: Fault) -> str:
    if fault.drop:
        return "drop"
    if fault.applied_then_status is not None:
        return f"applied_then_{fault.applied_then_status}"
    return str(fault.status)


async def _handle(app: EmulatorApp, request: web.Request) -> web.StreamResponse:
    path = request.path
    if path.startswith("/_emulator/"):
        return _control(app, path)
    raw = await request.read()
    incoming = Incoming(
        method=request.method,
        path=path,
        query=dict(request.query),
        headers={k.lower(): v for k, v in request.headers.items()},
        raw=raw,
    )
    matched = app.match(request.method, path)
    if isinstance(matched, Reply):
        return _response(matched)
    route, args = matched
    seq = app.next_seq()
    with app.lock:
        decision = app.faults.decide(route.endpoint, request.method)
    if decision.latency:
        await asyncio.sleep(decision.latency)
    fault = decision.fault
    if fault is not None and fault.drop:
        app.record(seq, incoming, route.endpoint, None, "drop")
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPInternalServerError()  # never sent: the connection is gone
    if fault is not None and fault.status is not None:
        reply = fault_reply(route.service, fault.status, fault.retry_after)
    else:
        reply = app.answer(route, args, incoming, seq)
        if fault is not None and fault.applied_then_status is not None:
            reply = fault_reply(route.service, fault.applied_then_status, None)
    app.record(
        seq, incoming, route.endpoint, reply.status, _describe(fault) if fault is not None else None
    )
    return _response(reply)


def _control(app: EmulatorApp, path: str) -> web.Response:
    app.sync()
    if path.rstrip("/") == "/_emulator/ledger":
        return web.json_response(app.ledger.as_json())
    if path.rstrip("/") == "/_emulator/health":
        with app.lock:
            return web.json_response({"status": "ok", "live_runs": app.simulation.live()})
    return _response(Reply(404, {"detail": "Not found."}))


def _response(reply: Reply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.Response(
        status=reply.status,
        text=json.dumps(reply.body),
        content_type="application/json",
        headers=reply.headers,
    )


class Emulator:
    """The emulator, started in a background thread on a loopback port.

    with Emulator(config) as emulator:
        os.environ.update(emulator.environment())
        ...
        assert len(emulator.ledger.runs) == planned
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.host = host
        self.clock = clock or RealClock(self.config.time_scale)
        self.app = EmulatorApp(self.config, self.clock)
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._socket.bind((host, port))
            self._socket.listen(512)
        except OSError:
            self._socket.close()
            raise
        self.port: int = self._socket.getsockname()[1]
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def ledger(self) -> Ledger:
        """The ledger, brought up to the clock's now."""
        self.app.sync()
        return self.app.ledger

    def environment(self) -> dict[str, str]:
        """The variables that point Cekura's, Pipecat Cloud's and Daily's clients here."""
        return {
            "CEKURA_API_URL": self.base_url,
            "CEKURA_API_KEY": self.config.api_key,
            "PIPECAT_API_HOST": self.base_url,
            "DAILY_API_URL": f"{self.base_url}/v1",
            "PIPECAT_CLOUD_API_KEY": min(self.config.pipecat_keys, default="pk_emulator"),
            "DAILY_API_KEY": min(self.config.daily_keys, default="daily_emulator"),
        }

    def decode_token(self, token: str) -> dict[str, Any] | None:
        """The properties of a meeting token this emulator issued (None for any other)."""
        with self.app.lock:
            return self.app.daily.decode_token(token)

    def start(self) -> Emulator:
        self._thread = threading.Thread(target=self._serve, name="specrunner-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the emulator did not start within 30 s")
        if self._failure is not None:
            raise RuntimeError(f"the emulator failed to start: {self._failure}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start(); the thread just ends
            self._failure = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = web.Application(client_max_size=8 * 1024 * 1024)

        async def handle(request: web.Request) -> web.StreamResponse:
            return await _handle(self.app, request)

        server.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(server, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.SockSite(runner, self._socket)
        await site.start()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
