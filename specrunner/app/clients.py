"""What a run talks to: the environment (pointed at an in-process emulator with
`--emulator`), the Cekura client (over aiohttp: cekura_http.py) and the plan's room sources
(sharing one httpx client)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import httpx

from specrunner.cekura import CekuraClient, cekura_url
from specrunner.cekura_http import AiohttpRequester
from specrunner.models import RoomConfig
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomSource
from specrunner.rooms.build import build_room_source

# httpx's timeouts bound each step of a room source's request (waiting for a free
# connection, connecting, each read). Every request also has a total deadline and reads at
# most 32 MiB of its answer (http_common.fetch, cekura_http.AiohttpRequester), with the
# totals of cekura.Deadlines and of the room sources (docs/room-sources.md). A submission's
# total outlasts the wait for a connection and connecting (10 s each), so that one that runs
# out had begun to be sent.
TIMEOUT = httpx.Timeout(30.0, connect=10.0, pool=10.0)
CEKURA_CONNECTIONS = 20
"""Requests to Cekura at once: submissions (`--submissions`, 4 by default), a poll's bulk
GETs (4) and end-calls; one more waits at most 10 s for a connection."""


@dataclass(frozen=True, slots=True)
class Clients:
    cekura: CekuraClient
    sources: Mapping[str, RoomSource]


@contextmanager
def run_environment(
    environ: Mapping[str, str],
    *,
    emulator: bool,
    config_path: str | None = None,
    static_rooms: Sequence[tuple[str, str | None]] = (),
    note: Callable[[str], None] = lambda line: None,
) -> Iterator[Mapping[str, str]]:
    """The environment the clients use: `environ`, pointed at an in-process emulator (with
    its own API key and URLs) when `emulator` is set. The emulator takes its configuration
    from `config_path` (the format of `specrunner emulator --config`), and holds every room
    of `static_rooms` ((url, token) of the suite's static pools, whatever their domain);
    what it says of itself (a compressed clock) goes to `note`."""
    if not emulator:
        yield environ
        return
    from specrunner.emulator import Emulator, EmulatorConfig, load_config  # aiohttp: only here
    from specrunner.emulator.config import StaticRoom
    from specrunner.emulator.daily import room_address

    config = load_config(config_path) if config_path else EmulatorConfig()
    rooms = list(config.daily_rooms)
    for url, token in static_rooms:
        where = room_address(url)
        if where is not None:
            rooms.append(StaticRoom(where[1], host=where[0], token=token))
    config = dataclasses.replace(config, daily_rooms=tuple(rooms))
    with Emulator(config) as served:
        for notice in served.notices:
            note(f"note: {notice}")
        yield {**environ, **served.environment()}


@asynccontextmanager
async def open_clients(
    rooms: Mapping[str, RoomConfig], environ: Mapping[str, str], *, concurrency: int
) -> AsyncIterator[Clients]:
    """The Cekura client and a room source per rendered room configuration (sharing one
    HTTP client); the sources are closed, and the clients, on the way out."""
    limits = httpx.Limits(max_connections=max(20, concurrency * 2))
    async with (
        httpx.AsyncClient(timeout=TIMEOUT, limits=limits, follow_redirects=False) as http,
        AiohttpRequester.session(cekura_url(environ)) as session,
    ):
        retry = RetryPolicy()
        # A poll gives up within the run's budget for an unreachable Cekura (the breaker),
        # so that a dead Cekura ends the run in about half a minute, not five.
        cekura = CekuraClient.from_environ(
            AiohttpRequester(session, connections=CEKURA_CONNECTIONS),
            environ,
            RetryPolicy(deadline=20.0, cap=5.0),
        )
        sources = {
            name: build_room_source(config, http=http, environ=environ, retry=retry)
            for name, config in rooms.items()
        }
        try:
            yield Clients(cekura, sources)
        finally:
            for source in sources.values():
                await source.close()


def check_clients(
    rooms: Mapping[str, RoomConfig], environ: Mapping[str, str], *, concurrency: int
) -> None:
    """Build the clients of `rooms` as a run does, then close them unused (no connection
    is made): a configuration that cannot work (a URL specrunner may not call, a room
    source's missing key) raises here, as it would stop the run."""

    async def build() -> None:
        async with open_clients(rooms, environ, concurrency=concurrency):
            pass

    asyncio.run(build())
