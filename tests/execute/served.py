"""A loopback HTTP server that answers with a handler written in httpx's terms (an
`httpx.Request` in, an `httpx.Response` out, its body streamed as the handler's stream
yields it), and the real `AiohttpRequester` pointed at it.

The Cekura client's tests speak to Cekura's address (`https://api.example.test`, so that
messages read as they would); `ServedRequester` sends each request to this server instead,
over a real socket, through a fresh aiohttp session: the deadlines, caps, decoding and
failures they test are aiohttp's and specrunner's, not a fake's.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from aiohttp import web

from specrunner.cekura_http import AiohttpRequester
from specrunner.http_common import ANSWER_CAP, Answer

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
BASE = "https://api.example.test"
_DROPPED = ("content-length", "transfer-encoding", "connection", "keep-alive")


class Server:
    """An aiohttp server on 127.0.0.1 in a thread of its own; `handler` answers."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        assert self.handler is not None, "no handler set"
        sent = httpx.Request(
            request.method,
            BASE + request.path_qs,
            headers=list(request.headers.items()),
            content=await request.read(),
        )
        result = self.handler(sent)
        response = await result if inspect.isawaitable(result) else result
        assert isinstance(response, httpx.Response)
        answer = web.StreamResponse(status=response.status_code)
        for name, value in response.headers.multi_items():
            if name.lower() not in _DROPPED:
                answer.headers.add(name, value)
        declared = response.headers.get("content-length")
        if declared is not None:
            answer.content_length = int(declared)
        else:
            answer.enable_chunked_encoding()
        try:
            await answer.prepare(request)
            stream = response.stream
            if isinstance(stream, httpx.ByteStream):  # a body given whole, as it was given
                await answer.write(b"".join(stream))
            else:  # a stream: sent as it yields
                async for chunk in response.aiter_raw():
                    await answer.write(chunk)
            await answer.write_eof()
        except ConnectionError:  # the client stopped reading: its deadline came
            pass
        return answer

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the test server did not start"

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def served() -> Iterator[Server]:
    server = Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ServedRequester:
    """The real AiohttpRequester (a session per request), sending what is addressed to
    `BASE` to `server`."""

    def __init__(self, server: Server, **options: Any) -> None:
        self._server = server
        self._options = options

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        deadline: float,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        cap: int = ANSWER_CAP,
    ) -> Answer:
        assert url.startswith(BASE), url
        target = self._server.url + url.removeprefix(BASE)
        async with AiohttpRequester.session(target) as session:
            requester = AiohttpRequester(session, **self._options)
            return await requester.request(
                method,
                target,
                headers=headers,
                deadline=deadline,
                params=params,
                body=body,
                cap=cap,
            )
