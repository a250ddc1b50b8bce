"""The http source, pointed at the emulator's Pipecat Cloud start endpoint (which answers
with dailyRoom and dailyToken) and at endpoints that lack those fields."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from roomkit import FakeTime, planned_run, recorded, requests_to, room_config, run_with_client

from specrunner.emulator import Emulator, EmulatorConfig, Fault, ManualClock
from specrunner.models import RoomConfig
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.build import build_room_source
from specrunner.rooms.calls import ConfiguredRequest
from specrunner.rooms.http_source import HttpRoomSource, HttpSettings, field_of

KEY = "pk_http_source_key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ONCE = frozenset({1})


def start(emu: Emulator, **values: Any) -> RoomConfig:
    values.setdefault("url", f"{emu.base_url}/v1/public/bot/start")
    values.setdefault("headers", AUTH)
    values.setdefault("body", {"createDailyRoom": True})
    return room_config("http", secret=("headers",), **values)


def lease_with(config: RoomConfig, time: FakeTime, **policy: Any) -> RoomLease:
    async def main(client: httpx.AsyncClient) -> RoomLease:
        source = build_room_source(config, http=client, environ={}, retry=time.policy(**policy))
        return await source.lease(planned_run())

    return run_with_client(main)


def refusal(config: RoomConfig, time: FakeTime, **policy: Any) -> str:
    with pytest.raises(RoomUnavailable) as caught:
        lease_with(config, time, **policy)
    return str(caught.value)


def test_reads_the_room_and_token_from_the_answer() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        lease = lease_with(start(emu, body={"createDailyRoom": True, "body": {"a": 1}}), time)
        (session,) = emu.ledger.sessions
        (room,) = emu.ledger.rooms
        claims = emu.decode_token(lease.token or "")
    assert (lease.source, lease.url, lease.handle) == ("lab", room.url, session.session_id)
    assert session.body == {"a": 1}
    assert claims is not None and claims["room_name"] == room.name
    assert time.waits == []


def test_a_missing_url_field_is_unavailable_naming_the_field() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        message = refusal(start(emu, body={}), time)  # the answer is {sessionId} only
        assert len(requests_to(emu.ledger, "pipecat.start")) == 1
    assert message == (
        f"room source 'lab': start request to {emu.base_url}/v1/public/bot/start: "
        "the answer has no room URL in field 'dailyRoom'"
    )


def test_other_field_names_and_no_token() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = start(emu, url_field="dailyRoom", token_field="joinToken")
        lease = lease_with(config, time)
        (room,) = emu.ledger.rooms
    assert (lease.url, lease.token) == (room.url, None)


def test_a_field_name_with_dots_reaches_into_objects() -> None:
    answer = {"room": {"url": "https://x.daily.co/r"}, "a.b": 1}
    assert field_of(answer, "room.url") == "https://x.daily.co/r"
    assert field_of(answer, "a.b") == 1
    assert field_of(answer, "room.token") is not None  # missing: the sentinel
    assert not isinstance(field_of(answer, "room.token"), str)


def test_an_answer_that_is_not_an_object_is_unavailable() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = start(
            emu,
            url=f"{emu.base_url}/test_framework/v2/runs/bulk/?run_ids=1",
            method="GET",
            headers={"X-CEKURA-API-KEY": "specrunner-emulator-key"},
            body=None,
        )
        message = refusal(config, time)
    assert message.endswith("/test_framework/v2/runs/bulk/: the answer is not a JSON object")
    assert "run_ids" not in message  # the query (which may hold secrets) is not shown


@pytest.mark.parametrize(
    "fault",
    [
        Fault(endpoint="pipecat.start", status=429, retry_after=3, nth=ONCE),
        Fault(endpoint="pipecat.start", status=429, nth=ONCE),
        Fault(endpoint="pipecat.start", status=503, retry_after=2, nth=ONCE),
    ],
    ids=["429-retry-after", "429", "503-retry-after"],
)
def test_refusals_that_started_nothing_are_retried(fault: Fault) -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        lease = lease_with(start(emu), time)
        starts = requests_to(emu.ledger, "pipecat.start")
        assert len(emu.ledger.sessions) == 1
    assert [r.status for r in starts] == [fault.status, 200]
    assert lease.token
    assert len(time.waits) == 1
    assert time.waits[0] >= (fault.retry_after or 0)


def test_a_refused_connection_is_retried() -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    time = FakeTime()
    config = room_config("http", url=f"http://127.0.0.1:{port}/start", headers=AUTH)
    message = refusal(config, time, max_attempts=2)
    assert "failed: could not connect" in message
    assert message.endswith("(after 2 attempts)")
    assert len(time.waits) == 1
    assert KEY not in message


@pytest.mark.parametrize(
    ("fault", "sessions", "expected"),
    [
        (Fault(endpoint="pipecat.start", status=500, nth=ONCE), 0, "HTTP 500: Service unavailable"),
        (
            Fault(endpoint="pipecat.start", applied_then_status=502, nth=ONCE),
            1,
            "HTTP 502: Service unavailable",
        ),
        (Fault(endpoint="pipecat.start", status=503, nth=ONCE), 0, "HTTP 503: Service unavailable"),
        (Fault(endpoint="pipecat.start", drop=True, nth=ONCE), 0, "the connection failed"),
        (
            Fault(endpoint="pipecat.start", latency=1.5, nth=ONCE),
            1,
            "no answer within the timeout",
        ),
    ],
    ids=["500", "applied-then-502", "503-without-retry-after", "dropped", "timeout-after-sending"],
)
def test_a_start_that_may_have_started_a_bot_is_sent_once(
    fault: Fault, sessions: int, expected: str
) -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        url = f"{emu.base_url}/v1/public/bot/start"
        body = {"createDailyRoom": True}
        settings = HttpSettings(ConfiguredRequest(url=url, headers=AUTH, body=body, timeout=0.5))

        async def main(client: httpx.AsyncClient) -> str:
            source = HttpRoomSource(
                "lab", settings, http=client, retry=time.policy(), capacity=None
            )
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run())
            return str(caught.value)

        message = run_with_client(main)
        # a request answered after the client gave up is recorded when answered
        starts = recorded(lambda: emu.ledger, "pipecat.start", 1)
        made = len(emu.ledger.sessions)
    assert len(starts) == 1  # one start request, never a second
    assert made == sessions  # what that one request made, if anything
    assert message.startswith(f"room source 'lab': start request to {url} failed: {expected}")
    assert message.endswith("; the request may have been applied, so it is not sent again")
    assert KEY not in message
    assert time.waits == []


def test_a_refusal_is_unavailable_at_once_without_the_header() -> None:
    time = FakeTime()
    cfg = EmulatorConfig(pipecat_keys=frozenset({"pk_other"}))
    with Emulator(cfg, clock=ManualClock()) as emu:
        message = refusal(start(emu), time)
        assert len(requests_to(emu.ledger, "pipecat.start")) == 1
    assert message.endswith("failed: HTTP 401: Unauthorized / token expired")
    assert KEY not in message
    assert time.waits == []


def test_gives_up_after_the_policy_s_attempts() -> None:
    time = FakeTime()
    fault = Fault(endpoint="pipecat.start", status=429)
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        message = refusal(start(emu), time, max_attempts=2)
        assert len(requests_to(emu.ledger, "pipecat.start")) == 2
    assert message.endswith(
        "failed: HTTP 429: Rate limit exceeded. Please try again later (after 2 attempts)"
    )


def lease_answering(room_url: str) -> RoomLease:
    """A lease from an endpoint (a MockTransport) that answers with `room_url`."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"dailyRoom": room_url, "dailyToken": "t"})

    settings = HttpSettings(ConfiguredRequest(url="https://bots.example.test/start"))

    async def main() -> RoomLease:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            source = HttpRoomSource(
                "lab", settings, http=client, retry=FakeTime().policy(), capacity=None
            )
            return await source.lease(planned_run())

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("room_url", "expected"),
    [
        ("file:///etc/passwd", "the room URL file:///etc/passwd in field 'dailyRoom' is not an"),
        (
            "http://example.com/x?t=secret",
            "the room URL http://example.com/x in field 'dailyRoom' uses plain http",
        ),
    ],
    ids=["file", "plain-http"],
)
def test_a_room_url_specrunner_may_not_send_fails_the_lease(room_url: str, expected: str) -> None:
    with pytest.raises(RoomUnavailable) as caught:
        lease_answering(room_url)
    message = str(caught.value)
    assert message.startswith(
        f"room source 'lab': start request to https://bots.example.test/start: {expected}"
    )
    assert "secret" not in message


def test_an_https_room_url_is_leased() -> None:
    lease = lease_answering("https://x.daily.co/room")
    assert (lease.url, lease.token) == ("https://x.daily.co/room", "t")


def test_a_redirected_start_is_unavailable_and_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example.test/s?k=1"})

    settings = HttpSettings(ConfiguredRequest(url="https://bots.example.test/start"))

    async def main() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            source = HttpRoomSource(
                "lab", settings, http=client, retry=FakeTime().policy(), capacity=None
            )
            await source.lease(planned_run())

    with pytest.raises(RoomUnavailable) as caught:
        asyncio.run(main())
    assert str(caught.value) == (
        "room source 'lab': start request to https://bots.example.test/start failed: "
        "HTTP 302 (a redirect to https://elsewhere.example.test/s); redirects are not followed"
    )
    assert len(seen) == 1
