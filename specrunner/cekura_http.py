"""How specrunner's Cekura client talks HTTP: aiohttp's client, one request at a time within
a total deadline and a cap on its answer, its failures sorted by whether anything was sent.

aiohttp rather than httpx (which the room sources use): a 10,000-run suite sends about
1,000 submissions and hundreds of bulk polls, and aiohttp's client costs a quarter of the
CPU per request (`bench/bench_http_clients.py`).

What is sent, and what a failure means:
- connections are bounded here, not in aiohttp's pool: a request waits at most `wait`
  seconds for one of `connections`, and one that gets none raises `NotSent(busy=True)`;
- a connection that cannot be made (refused, DNS, TLS, `connect` seconds) raises `NotSent`;
- any failure once the request may have begun to be sent raises `Lost`: the server may
  have carried it out. aiohttp itself sends a POST once (it repeats only idempotent
  requests on a stale kept-alive connection);
- the whole answer must come within `deadline` seconds (AnswerTooSlow) and be at most
  `cap` bytes once decompressed (AnswerTooLarge for a 2xx, an empty body otherwise);
- no redirect is followed: a 3xx is an answer like any other.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict

from specrunner.http_common import (
    ANSWER_CAP,
    Answer,
    AnswerTooSlow,
    Lost,
    NotSent,
    kept_headers,
    read_capped,
)
from specrunner.version import __version__

USER_AGENT = f"specrunner/{__version__}"
CONNECTION_WAIT = 10.0
"""Seconds a request waits for a free connection before it is `NotSent(busy=True)`."""
CONNECT = 10.0
"""Seconds a connection may take to be made, TLS included, before it is `NotSent`."""


class AiohttpRequester:
    """An `HttpRequester` over one aiohttp session (see the module's docstring)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        connections: int = 20,
        wait: float = CONNECTION_WAIT,
    ) -> None:
        self._session = session
        self._free = asyncio.Semaphore(connections)
        self._wait = wait

    @staticmethod
    def session(base_url: str, *, connect: float = CONNECT) -> aiohttp.ClientSession:
        """A session for an AiohttpRequester of `base_url`: no bound of its own on
        connections (the requester's is the only one, so a wait for one is never
        aiohttp's), `connect` seconds to connect (TLS included), and the proxy the
        environment names for `base_url` (HTTPS_PROXY, NO_PROXY...), as httpx takes it."""
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect),
            headers={"User-Agent": USER_AGENT},
            proxy=environment_proxy(base_url),
        )

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
        started = False
        try:
            async with asyncio.timeout(deadline):
                try:
                    async with asyncio.timeout(self._wait):
                        await self._free.acquire()
                except TimeoutError:
                    raise NotSent(
                        f"no connection was free within {self._wait:g} s", busy=True
                    ) from None
                try:
                    started = True
                    return await self._exchange(method, url, headers, params, body, cap)
                finally:
                    self._free.release()
        except TimeoutError:
            if not started:  # the deadline came while waiting for a connection
                raise NotSent(f"no connection was free within {deadline:g} s", busy=True) from None
            raise AnswerTooSlow(deadline) from None

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        body: bytes | None,
        cap: int,
    ) -> Answer:
        try:
            async with self._session.request(
                method, url, params=params, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                content = await read_capped(
                    response.content.iter_any(),
                    status=status,
                    cap=cap,
                    declared=response.content_length,
                )
                kept = CIMultiDict(kept_headers(response.headers.items()))
        except aiohttp.ClientConnectorError as exc:
            cause = exc.os_error.strerror or str(exc.os_error) or "no detail"
            reason = f"{type(exc).__name__}: cannot connect to {exc.host}:{exc.port} ({cause})"
            raise NotSent(reason) from None
        except aiohttp.ConnectionTimeoutError as exc:
            raise NotSent(_reason(exc)) from None
        except aiohttp.InvalidURL as exc:  # checked before: nothing is sent to such a URL
            raise NotSent(_reason(exc)) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Lost(_reason(exc)) from None
        return Answer(status, kept, content, method=method, path=response.url.path)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`HTTPS_PROXY` for an https URL...), or
    None: none named, or its host is in `NO_PROXY`. Looked up once per session: aiohttp's
    own `trust_env` looks it up again in a thread for every request."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _reason(exc: BaseException) -> str:
    """`ServerDisconnectedError: Server disconnected`: what failed, in one line (aiohttp's
    messages name the host and port, never a header or a body)."""
    words = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {words}" if words else type(exc).__name__
