"""What a run talks to: the environment (pointed at an in-process emulator with
`--emulator`), the Cekura client (over aiohttp: cekura_http.py) and the plan's room sources
(sharing one httpx client)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from specrunner.cekura import POLLS_AT_ONCE, CekuraClient, cekura_url
from specrunner.cekura_http import AiohttpRequester
from specrunner.models import RoomConfig
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomSource
from specrunner.rooms.build import HTTP_KINDS, build_room_source

if TYPE_CHECKING:
    import httpx


# Every request has a total deadline and reads at most 32 MiB of its answer
# (http_common.fetch, cekura_http.AiohttpRequester), with the totals of cekura.Deadlines and
# of the room sources (docs/room-sources.md). httpx's timeouts also bound each step of a
# room source's request (`room_sources_client`). A submission's total outlasts the wait for
# a connection and connecting (10 s each), so that one that runs out had begun to be sent.
def cekura_connections(submissions: int) -> int:
    """Requests to Cekura at once: the submissions (`--submissions`), a poll's bulk GETs
    (4) and twelve more for end-calls (20 at 4 submissions); one more waits at most 10 s
    for a connection."""
    return submissions + POLLS_AT_ONCE + 12


def default_submissions(concurrency: int) -> int:
    """Submissions in flight at once when not given: one per 50 runs in flight, from 4 to
    32. A wave of 1,000 freed rooms is 100 POSTs of 10 runs: 4 at a time, the last went
    out about 0.1 s after the first; 20 at a time halved that (bench/bench_run.py,
    10,000 runs on 1,000 rooms). With 200 rooms, more than 4 at a time only made the
    polls wait behind them."""
    return max(4, min(32, concurrency // 50))


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
    rooms: Mapping[str, RoomConfig],
    environ: Mapping[str, str],
    *,
    concurrency: int,
    submissions: int | None = None,
) -> AsyncIterator[Clients]:
    """The Cekura client and a room source per rendered room configuration (those that call
    HTTP APIs share one httpx client, made only for them); the sources are closed, and the
    clients, on the way out. Cekura's connections are sized for `submissions` in flight
    (None: `default_submissions` of `concurrency`, as a run takes it)."""
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(AiohttpRequester.session(cekura_url(environ)))
        http = None
        if any(config.source in HTTP_KINDS for config in rooms.values()):
            http = await stack.enter_async_context(room_sources_client(concurrency))
        retry = RetryPolicy()
        # A poll gives up within the run's budget for an unreachable Cekura (the breaker),
        # so that a dead Cekura ends the run in about half a minute, not five.
        cekura = CekuraClient.from_environ(
            AiohttpRequester(
                session,
                connections=cekura_connections(
                    default_submissions(concurrency) if submissions is None else submissions
                ),
            ),
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


def room_sources_client(concurrency: int) -> httpx.AsyncClient:
    """The httpx client the room sources share: 10 s to get a free connection, 10 s to
    connect, 30 s for each read (within each request's total deadline), no redirect."""
    import httpx  # only suites with a room source that calls an HTTP API load it

    timeout = httpx.Timeout(30.0, connect=10.0, pool=10.0)
    limits = httpx.Limits(max_connections=max(20, concurrency * 2))
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)


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
