"""The emulator's HTTP server: one loopback port for Cekura, Pipecat Cloud and Daily.

It runs on aiohttp in a thread of its own, so tests and `specrunner run --emulator` can
start it in-process; `specrunner emulator` runs it in the foreground.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from typing import Any

from aiohttp import web

from specrunner.emulator.bots import PATH as BOT_PATH
from specrunner.emulator.clock import Clock, RealClock
from specrunner.emulator.config import EmulatorConfig
from specrunner.emulator.ledger import Ledger
from specrunner.emulator.replies import Incoming, Reply
from specrunner.emulator.service import EmulatorApp, describe_fault, fault_reply


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
    if isinstance(matched, Reply):  # no such endpoint: answered, and still recorded
        app.record(app.next_seq(), incoming, "unknown", matched.status, None)
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
        seq,
        incoming,
        route.endpoint,
        reply.status,
        describe_fault(fault) if fault is not None else None,
    )
    return _response(reply)


def _control(app: EmulatorApp, path: str) -> web.Response:
    app.sync()
    if path.rstrip("/") == "/_emulator/ledger":
        return web.json_response(app.ledger.as_json())
    if path.rstrip("/") == "/_emulator/health":
        return web.json_response(app.health())
    return _response(Reply(404, {"detail": "Not found."}))


_ENCODER = json.JSONEncoder(check_circular=False)
"""`json.dumps`, made once; a reply's body is JSON data, with no cycle to look for."""


def _response(reply: Reply) -> web.Response:
    if reply.body is None:
        return web.Response(status=reply.status, headers=reply.headers)
    return web.Response(
        status=reply.status,
        text=_ENCODER.encode(reply.body),
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
    def bot_start_url(self) -> str:
        """The emulator's bot-start endpoint, for a Daily source's `start_bot.url`."""
        return f"{self.base_url}{BOT_PATH}"

    @property
    def notices(self) -> tuple[str, ...]:
        """Lines to show whoever started it, on stderr (a time_scale other than 1)."""
        return self.config.notices()

    @property
    def ledger(self) -> Ledger:
        """The ledger, brought up to the clock's now."""
        self.app.sync()
        return self.app.ledger

    def environment(self) -> dict[str, str]:
        """The variables that point Cekura's, Pipecat Cloud's and Daily's clients here, and
        a bot-start URL (the emulator's stand-in for your own bot service)."""
        return {
            "CEKURA_API_URL": self.base_url,
            "CEKURA_API_KEY": self.config.api_key,
            "PIPECAT_API_HOST": self.base_url,
            "DAILY_API_URL": f"{self.base_url}/v1",
            "PIPECAT_CLOUD_API_KEY": min(self.config.pipecat_keys, default="pk_emulator"),
            "PIPECAT_CLOUD_PRIVATE_KEY": min(
                self.config.pipecat_private_keys, default="sk_emulator"
            ),
            "DAILY_API_KEY": min(self.config.daily_keys, default="daily_emulator"),
            # For a Daily source's start_bot: `url: "{{ env.BOT_START_URL }}"`.
            "BOT_START_URL": self.bot_start_url,
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
