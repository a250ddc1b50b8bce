"""Every request of a room source has a total deadline (connecting, sending and reading the
whole answer) and reads at most 32 MiB of its answer: a server that sends a byte at a time,
or without end, fails the lease (RoomUnavailable) as a timeout or a refusal would, and a
request that must not happen twice is still sent once. Fakes answer through
httpx.MockTransport, which has no timeouts of its own: only the deadline can end a slow
answer here."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from roomkit import FakeTime, planned_run

from specrunner.retry import RetryLater
from specrunner.rooms import pipecat_cloud
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.calls import (
    DEADLINE,
    NOT_SENT_AGAIN,
    ConfiguredRequest,
    Redactor,
    Request,
    send,
)
from specrunner.rooms.daily import DailyRoomSource, DailySettings
from specrunner.rooms.http_source import HttpRoomSource, HttpSettings
from specrunner.rooms.pipecat_cloud import PipecatCloudRoomSource, PipecatCloudSettings

OVER_CAP = 32 * 1024 * 1024 + 1
START = "https://runner.example.test/start"
Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


async def drip(pieces: int = 100, every: float = 0.1) -> AsyncIterator[bytes]:
    """A body sent a byte at a time (10 s in all, unless cut)."""
    for _ in range(pieces):
        await asyncio.sleep(every)
        yield b" "


class Server:
    """Records each request and answers with `answer`."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def slow(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=drip())


def huge(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b" " * OVER_CAP)


def with_client(server: Server, body: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            return await body(client)

    return asyncio.run(main())


def request(*, deadline: float = 0.5, retry_unsure: bool = True) -> Request:
    return Request(
        method="POST",
        url=START,
        what="start request",
        headers={},
        deadline=deadline,
        retry_unsure=retry_unsure,
    )


# -- one request -----------------------------------------------------------------------------


def test_a_slow_answer_to_a_request_safe_to_repeat_is_worth_another_try() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        await send(client, request(), Redactor())

    started = time.monotonic()
    with pytest.raises(RetryLater) as caught:
        with_client(Server(slow), body)
    assert time.monotonic() - started < 3
    assert caught.value.reason == (
        "start request failed: no answer within the timeout (all of it must come within 0.5 s)"
    )


def test_a_slow_answer_to_a_request_that_must_not_happen_twice_is_unavailable() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        await send(client, request(retry_unsure=False), Redactor())

    with pytest.raises(RoomUnavailable) as caught:
        with_client(Server(slow), body)
    assert str(caught.value) == (
        "start request failed: no answer within the timeout (all of it must come within "
        f"0.5 s); {NOT_SENT_AGAIN}"
    )


def test_an_answer_over_the_cap_is_unavailable_naming_the_cap() -> None:
    async def body(client: httpx.AsyncClient) -> None:
        await send(client, request(), Redactor())

    with pytest.raises(RoomUnavailable) as caught:
        with_client(Server(huge), body)
    assert str(caught.value) == (
        "start request failed: HTTP 200: the answer is over 32 MiB, the most specrunner "
        "reads of one"
    )


def test_a_configured_timeout_is_the_total_and_30_s_without_one() -> None:
    timed = ConfiguredRequest(url=START, timeout=5.0).request("x", None)
    assert (timed.timeout, timed.deadline) == (5.0, 5.0)
    untimed = ConfiguredRequest(url=START).request("x", None)
    assert (untimed.timeout, untimed.deadline) == (None, DEADLINE) == (None, 30.0)


# -- the sources -----------------------------------------------------------------------------


def test_an_http_source_s_timeout_bounds_a_start_answered_a_byte_at_a_time() -> None:
    server = Server(slow)
    settings = HttpSettings(ConfiguredRequest(url=START, timeout=1.0))

    async def body(client: httpx.AsyncClient) -> RoomLease:
        source = HttpRoomSource(
            "runner", settings, http=client, retry=FakeTime().policy(), capacity=None
        )
        return await source.lease(planned_run())

    started = time.monotonic()
    with pytest.raises(RoomUnavailable) as caught:
        with_client(server, body)
    assert 1.0 <= time.monotonic() - started < 4
    assert str(caught.value) == (
        f"room source 'runner': start request to {START} failed: no answer within the "
        f"timeout (all of it must come within 1 s); {NOT_SENT_AGAIN}"
    )
    assert len(server.requests) == 1  # at most once


def test_an_http_source_s_answer_over_the_cap_is_unavailable() -> None:
    server = Server(huge)
    settings = HttpSettings(ConfiguredRequest(url=START))

    async def body(client: httpx.AsyncClient) -> RoomLease:
        source = HttpRoomSource(
            "runner", settings, http=client, retry=FakeTime().policy(), capacity=None
        )
        return await source.lease(planned_run())

    with pytest.raises(RoomUnavailable) as caught:
        with_client(server, body)
    assert str(caught.value).endswith(
        "HTTP 200: the answer is over 32 MiB, the most specrunner reads of one"
    )
    assert len(server.requests) == 1


def test_a_pipecat_cloud_start_answered_a_byte_at_a_time_is_sent_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pipecat_cloud, "START_DEADLINE", 0.5)  # 60 s in a run
    server = Server(slow)
    settings = PipecatCloudSettings(
        agent_name="bot",
        api_key="pk_limits_key",
        api_url="https://api.example.test",
        max_sessions=1,
    )

    async def body(client: httpx.AsyncClient) -> str:
        source = PipecatCloudRoomSource(
            "cloud", settings, http=client, retry=FakeTime().policy(), capacity=None
        )
        with pytest.raises(RoomUnavailable) as caught:
            await source.lease(planned_run())
        # the failed lease gave its session slot back
        server.answer = lambda r: httpx.Response(
            200, json={"dailyRoom": "https://x.daily.co/r", "dailyToken": "t", "sessionId": "s"}
        )
        lease = await asyncio.wait_for(source.lease(planned_run("b")), 5)
        assert lease.token == "t"
        return str(caught.value)

    message = with_client(server, body)
    assert message == (
        "room source 'cloud': Pipecat Cloud start of agent 'bot' failed: no answer within the "
        f"timeout (all of it must come within 0.5 s); {NOT_SENT_AGAIN}"
    )
    assert "pk_limits_key" not in message
    assert len(server.requests) == 2  # the slow start once, then the second lease's


def daily_api(bot: Callable[[httpx.Request], httpx.Response]) -> Server:
    """Daily's REST API (rooms, tokens, deletions) and a bot-start endpoint answering `bot`."""

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/rooms" and request.method == "POST":
            return httpx.Response(200, json={"name": "r1", "url": "https://x.daily.co/r1"})
        if path == "/v1/meeting-tokens":
            return httpx.Response(200, json={"token": "tok-r1"})
        if path.startswith("/v1/rooms/"):
            return (
                huge(request)
                if request.url.host == "huge.example.test"
                else httpx.Response(200, json={"deleted": True})
            )
        return bot(request)

    return Server(answer)


def daily_source(
    client: httpx.AsyncClient, api_url: str, start_bot: ConfiguredRequest | None
) -> DailyRoomSource:
    settings = DailySettings(api_key="daily_limits_key", api_url=api_url, start_bot=start_bot)
    return DailyRoomSource("own", settings, http=client, retry=FakeTime().policy(), capacity=None)


def test_a_start_bot_answered_a_byte_at_a_time_is_sent_once_and_its_room_deleted() -> None:
    server = daily_api(slow)
    start_bot = ConfiguredRequest(url="https://bots.example.test/start", timeout=0.5)

    async def body(client: httpx.AsyncClient) -> RoomLease:
        return await daily_source(client, "https://api.example.test/v1", start_bot).lease(
            planned_run()
        )

    with pytest.raises(RoomUnavailable) as caught:
        with_client(server, body)
    assert str(caught.value).startswith(
        "room source 'own': start_bot request failed: no answer within the timeout (all of it "
        "must come within 0.5 s)"
    )
    calls = [(r.method, r.url.path) for r in server.requests]
    assert calls == [
        ("POST", "/v1/rooms"),
        ("POST", "/v1/meeting-tokens"),
        ("POST", "/start"),
        ("DELETE", "/v1/rooms/r1"),
    ]


def test_a_deletion_answered_with_too_much_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = daily_api(slow)

    async def body(client: httpx.AsyncClient) -> None:
        source = daily_source(client, "https://huge.example.test/v1", None)
        await source.release(RoomLease(source="own", url="https://x.daily.co/r1", handle="r1"))

    with caplog.at_level(logging.WARNING, logger="specrunner.rooms"):
        with_client(server, body)
    (record,) = caplog.records
    assert record.getMessage() == (
        "room source 'own': deletion of Daily room r1 failed: HTTP 200: the answer is over "
        "32 MiB, the most specrunner reads of one"
    )
    assert len(server.requests) == 1  # answered: not asked again


def test_no_free_connection_is_worth_another_try_even_for_a_start() -> None:
    def pool_timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no connection", request=request)

    async def body(client: httpx.AsyncClient) -> None:
        await send(client, request(retry_unsure=False), Redactor())

    with pytest.raises(RetryLater) as caught:  # nothing was sent
        with_client(Server(pool_timeout), body)
    assert caught.value.reason == (
        "start request failed: no connection was free in time (PoolTimeout: no connection)"
    )
