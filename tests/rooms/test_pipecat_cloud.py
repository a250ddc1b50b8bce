"""Pipecat Cloud sessions against the emulator's start and stop endpoints, over loopback."""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from typing import Any

import httpx
import pytest
from roomkit import FakeTime, planned_run, recorded, requests_to, room_config, run_with_client

from specrunner.emulator import Emulator, EmulatorConfig, Fault, ManualClock
from specrunner.errors import UsageError
from specrunner.models import RoomConfig
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.build import build_room_source
from specrunner.rooms.pipecat_cloud import PipecatCloudRoomSource, PipecatCloudSettings

KEY = "pk_public_key_1234"
PRIVATE = "sk_private_key_5678"
ONCE = frozenset({1})
NOT_SENT_AGAIN = "; the request may have been applied, so it is not sent again"


def pipecat(emu: Emulator, **values: Any) -> RoomConfig:
    values.setdefault("agent_name", "bot")
    values.setdefault("api_key", KEY)
    values.setdefault("api_url", emu.base_url)
    secret = tuple(k for k in ("api_key", "private_api_key") if k in values)
    return room_config("pipecat_cloud", secret=secret, **values)


def source_for(
    config: RoomConfig, client: httpx.AsyncClient, time: FakeTime, **options: Any
) -> PipecatCloudRoomSource:
    source = build_room_source(config, http=client, environ={}, retry=time.policy(**options))
    assert isinstance(source, PipecatCloudRoomSource)
    return source


def stops(emu: Emulator) -> list[int | None]:
    return [r.status for r in requests_to(emu.ledger, "pipecat.stop")]


def private_keys(*keys: str, **options: Any) -> EmulatorConfig:
    """An emulator that starts sessions only with KEY and stops them only with `keys`."""
    return EmulatorConfig(
        pipecat_keys=frozenset({KEY}), pipecat_private_keys=frozenset(keys), **options
    )


def test_a_lease_is_a_room_and_token_the_service_made() -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(), clock=ManualClock()) as emu:
        config = pipecat(
            emu,
            body={"customer_id": "c-1"},
            room_properties={"enable_recording": "cloud"},
            token_properties={"is_owner": True},
        )

        async def main(client: httpx.AsyncClient) -> RoomLease:
            return await source_for(config, client, time).lease(planned_run())

        lease = run_with_client(main)
        (session,) = emu.ledger.sessions
        (room,) = emu.ledger.rooms
        claims = emu.decode_token(lease.token or "")
    assert (room.created_by, lease.url, lease.source) == ("pipecat", room.url, "lab")
    assert lease.handle == session.session_id
    assert session.body == {"customer_id": "c-1"}
    assert claims is not None
    assert claims["room_name"] == room.name
    assert claims["is_owner"] is True
    assert KEY not in repr(lease)
    assert time.waits == []


def test_api_url_defaults_to_pipecat_api_host() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = room_config("pipecat_cloud", agent_name="bot", api_key=KEY)

        async def main(client: httpx.AsyncClient) -> RoomLease:
            environ = {"PIPECAT_API_HOST": emu.base_url + "/"}
            source = build_room_source(config, http=client, environ=environ, retry=time.policy())
            return await source.lease(planned_run())

        lease = run_with_client(main)
        assert len(emu.ledger.sessions) == 1
    assert lease.url.startswith("https://specrunner-emulator.daily.co/")


def test_at_capacity_waits_and_starts_once_a_session_ends() -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(pipecat_agents={"bot": 1}), clock=ManualClock()) as emu:
        config = pipecat(emu)

        async def main(client: httpx.AsyncClient) -> tuple[RoomLease, RoomLease]:
            source = source_for(config, client, time)
            first = await source.lease(planned_run("a"))

            async def end_first_session(_: float) -> None:
                if len(time.waits) == 1:  # after the first 429: the first session ends
                    stop = f"{emu.base_url}/v1/agents/bot/sessions/{first.handle}"
                    answer = await client.delete(stop, headers={"Authorization": "Bearer sk"})
                    assert answer.status_code == 200

            time.on_sleep = end_first_session
            second = await asyncio.wait_for(source.lease(planned_run("b")), 10)
            return first, second

        first, second = run_with_client(main)
        starts = [r.status for r in requests_to(emu.ledger, "pipecat.start")]
        sessions = emu.ledger.sessions
    assert starts == [200, 429, 200]
    assert len(time.waits) == 1
    assert first.url != second.url
    assert [s.ended_by for s in sessions] == ["stopped", None]


def test_never_more_sessions_than_max_sessions() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = pipecat(emu, max_sessions=1)

        async def main(client: httpx.AsyncClient) -> int:
            source = source_for(config, client, time)
            assert source.capacity == 1
            first = await source.lease(planned_run("a"))
            waiting = asyncio.create_task(source.lease(planned_run("b")))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            started_while_full = len(emu.ledger.sessions)
            await source.release(first)
            await source.release(first)  # a second release frees nothing more
            second = await asyncio.wait_for(waiting, 5)
            third = asyncio.create_task(source.lease(planned_run("c")))
            await asyncio.sleep(0.2)
            assert not third.done()
            await source.release(second)
            await asyncio.wait_for(third, 5)
            return started_while_full

        started_while_full = run_with_client(main)
        assert started_while_full == 1
        assert len(emu.ledger.sessions) == 3


def test_an_adopted_session_counts_until_released() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = pipecat(emu, max_sessions=1)
        restored = RoomLease("lab", "https://x.daily.co/r", None, "5d3c-session")

        async def main(client: httpx.AsyncClient) -> None:
            source = source_for(config, client, time)
            await source.adopt(restored)
            waiting = asyncio.create_task(source.lease(planned_run("b")))
            await asyncio.sleep(0.2)
            assert not waiting.done()
            await source.release(restored)
            await asyncio.wait_for(waiting, 5)

        run_with_client(main)
        assert len(emu.ledger.sessions) == 1


def test_a_refused_key_is_unavailable_at_once_without_the_key() -> None:
    time = FakeTime()
    cfg = EmulatorConfig(pipecat_keys=frozenset({"pk_the_right_one"}))
    with Emulator(cfg, clock=ManualClock()) as emu:
        config = pipecat(emu, max_sessions=1)

        async def main(client: httpx.AsyncClient) -> str:
            source = source_for(config, client, time)
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run("a"))
            # the failed lease gave its session slot back
            with pytest.raises(RoomUnavailable):
                await asyncio.wait_for(source.lease(planned_run("b")), 5)
            return str(caught.value)

        message = run_with_client(main)
        starts = requests_to(emu.ledger, "pipecat.start")
    assert message == (
        "room source 'lab': Pipecat Cloud start of agent 'bot' failed: "
        "HTTP 401: Unauthorized / token expired"
    )
    assert KEY not in message
    assert [r.status for r in starts] == [401, 401]
    assert time.waits == []


def test_an_unknown_agent_is_unavailable_naming_the_status() -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(pipecat_agents={"bot": 2}), clock=ManualClock()) as emu:
        config = pipecat(emu, agent_name="nobody")

        async def main(client: httpx.AsyncClient) -> str:
            with pytest.raises(RoomUnavailable) as caught:
                await source_for(config, client, time).lease(planned_run())
            return str(caught.value)

        message = run_with_client(main)
    assert "HTTP 404: Agent nobody not found" in message


# -- at most one start per lease ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "sessions", "expected"),
    [
        (Fault(endpoint="pipecat.start", status=500, nth=ONCE), 0, "HTTP 500: Service unavailable"),
        (
            Fault(endpoint="pipecat.start", applied_then_status=500, nth=ONCE),
            1,
            "HTTP 500: Service unavailable",
        ),
        (Fault(endpoint="pipecat.start", status=503, nth=ONCE), 0, "HTTP 503: Service unavailable"),
        (Fault(endpoint="pipecat.start", drop=True, nth=ONCE), 0, "the connection failed"),
        (
            Fault(endpoint="pipecat.start", latency=1.5, nth=ONCE),
            1,
            "no answer within the timeout",
        ),
    ],
    ids=["500", "applied-then-500", "503-without-retry-after", "dropped", "timeout-after-sending"],
)
def test_a_start_that_may_have_made_a_session_is_sent_once(
    fault: Fault, sessions: int, expected: str
) -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        config = pipecat(emu, max_sessions=1)

        async def main(client: httpx.AsyncClient) -> tuple[str, int, int, RoomLease]:
            source = source_for(config, client, time)
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run("a"))
            # a request answered after the client gave up is recorded when answered
            starts = await asyncio.to_thread(recorded, lambda: emu.ledger, "pipecat.start", 1)
            made = len(emu.ledger.sessions)
            # the failed lease gave its session slot back: the next lease starts at once
            after = await asyncio.wait_for(source.lease(planned_run("b")), 5)
            return str(caught.value), len(starts), made, after

        message, starts, made, after = run_with_client(main, timeout=0.5)
        statuses = [r.status for r in requests_to(emu.ledger, "pipecat.start")]
    assert starts == 1  # one start request for the failed lease, never a second
    assert made == sessions  # what that one request made, if anything
    assert message.startswith(
        f"room source 'lab': Pipecat Cloud start of agent 'bot' failed: {expected}"
    )
    assert message.endswith(NOT_SENT_AGAIN)
    assert KEY not in message
    assert time.waits == []
    assert len(statuses) == 2 and statuses[-1] == 200
    assert after.token


@pytest.mark.parametrize(
    "fault",
    [
        Fault(endpoint="pipecat.start", status=429, retry_after=7, nth=ONCE),
        Fault(endpoint="pipecat.start", status=429, nth=ONCE),
        Fault(endpoint="pipecat.start", status=503, retry_after=2, nth=ONCE),
    ],
    ids=["429-retry-after", "429", "503-retry-after"],
)
def test_refusals_that_started_nothing_are_retried(fault: Fault) -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        config = pipecat(emu)

        async def main(client: httpx.AsyncClient) -> RoomLease:
            return await source_for(config, client, time).lease(planned_run())

        lease = run_with_client(main)
        starts = [r.status for r in requests_to(emu.ledger, "pipecat.start")]
        (session,) = emu.ledger.sessions
    assert starts == [fault.status, 200]
    assert lease.handle == session.session_id
    assert len(time.waits) == 1
    assert time.waits[0] >= (fault.retry_after or 0)


def test_gives_up_after_the_policy_s_attempts() -> None:
    time = FakeTime()
    fault = Fault(endpoint="pipecat.start", status=429)
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        config = pipecat(emu, max_sessions=1)

        async def main(client: httpx.AsyncClient) -> str:
            source = source_for(config, client, time, max_attempts=3)
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run())
            return str(caught.value)

        message = run_with_client(main)
        assert len(requests_to(emu.ledger, "pipecat.start")) == 3
    assert message == (
        "room source 'lab': Pipecat Cloud start of agent 'bot' failed: "
        "HTTP 429: Rate limit exceeded. Please try again later (after 3 attempts)"
    )


def test_connection_refused_is_retried_then_unavailable() -> None:
    with socket.socket() as probe:  # a loopback port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    time = FakeTime()
    config = room_config(
        "pipecat_cloud", agent_name="bot", api_key=KEY, api_url=f"http://127.0.0.1:{port}"
    )

    async def main(client: httpx.AsyncClient) -> str:
        source = build_room_source(
            config, http=client, environ={}, retry=time.policy(max_attempts=2)
        )
        with pytest.raises(RoomUnavailable) as caught:
            await source.lease(planned_run())
        return str(caught.value)

    message = run_with_client(main)
    assert "could not connect" in message
    assert "(after 2 attempts)" in message
    assert "not sent again" not in message  # a refused connection sent nothing
    assert KEY not in message


# -- stopping sessions on release ------------------------------------------------------------


def test_release_with_the_private_key_stops_the_session_then_frees_its_slot() -> None:
    time = FakeTime()
    with Emulator(private_keys(PRIVATE), clock=ManualClock()) as emu:
        config = pipecat(emu, private_api_key=PRIVATE, max_sessions=1)

        async def main(client: httpx.AsyncClient) -> RoomLease:
            source = source_for(config, client, time)
            first = await source.lease(planned_run("a"))
            await source.release(first)
            await source.release(first)  # stopped once, and its slot freed once
            return await asyncio.wait_for(source.lease(planned_run("b")), 5)

        second = run_with_client(main)
        first_session, second_session = emu.ledger.sessions
        assert stops(emu) == [200]  # the emulator takes only the private key
    assert first_session.ended_by == "stopped"
    assert first_session.ended_at is not None
    assert (second_session.session_id, second_session.ended_at) == (second.handle, None)


def test_an_adopted_session_is_stopped_on_release() -> None:
    time = FakeTime()
    with Emulator(private_keys(PRIVATE), clock=ManualClock()) as emu:
        config = pipecat(emu, private_api_key=PRIVATE, max_sessions=1)

        async def earlier_process(client: httpx.AsyncClient) -> RoomLease:
            return await source_for(config, client, time).lease(planned_run())

        leased = run_with_client(earlier_process)
        # as the journal keeps it: source, url and the session id as handle, no token
        restored = RoomLease(leased.source, leased.url, None, leased.handle)

        async def resumed(client: httpx.AsyncClient) -> None:
            source = source_for(config, client, time)
            await source.adopt(restored)
            await source.release(restored)
            await asyncio.wait_for(source.lease(planned_run("b")), 5)  # its slot is free

        run_with_client(resumed)
        first, _ = emu.ledger.sessions
        assert stops(emu) == [200]
    assert (first.session_id, first.ended_by) == (restored.handle, "stopped")


def test_a_session_already_gone_counts_as_stopped(caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    gone = RoomLease("lab", "https://x.daily.co/r", None, str(uuid.UUID(int=7, version=4)))
    with Emulator(private_keys(PRIVATE), clock=ManualClock()) as emu:
        config = pipecat(emu, private_api_key=PRIVATE)

        async def main(client: httpx.AsyncClient) -> None:
            await source_for(config, client, time).release(gone)

        with caplog.at_level(logging.WARNING, logger="specrunner"):
            run_with_client(main)
        assert stops(emu) == [404]
    assert caplog.records == []
    assert time.waits == []


def test_a_stop_is_retried_after_a_server_error() -> None:
    time = FakeTime()
    fault = Fault(endpoint="pipecat.stop", status=500, nth=ONCE)
    with Emulator(private_keys(PRIVATE, faults=(fault,)), clock=ManualClock()) as emu:
        config = pipecat(emu, private_api_key=PRIVATE)

        async def main(client: httpx.AsyncClient) -> None:
            source = source_for(config, client, time)
            await source.release(await source.lease(planned_run()))

        run_with_client(main)
        (session,) = emu.ledger.sessions
        assert stops(emu) == [500, 200]
    assert session.ended_by == "stopped"
    assert len(time.waits) == 1


@pytest.mark.parametrize(
    ("emulator", "expected"),
    [
        (private_keys("sk_another_private_key"), "HTTP 401: Unauthorized / token expired"),
        (
            private_keys(PRIVATE, faults=(Fault(endpoint="pipecat.stop", status=502),)),
            "HTTP 502: Service unavailable (after 2 attempts)",
        ),
    ],
    ids=["refused-key", "server-errors"],
)
def test_a_failed_stop_is_logged_not_raised(
    emulator: EmulatorConfig, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    time = FakeTime()
    with Emulator(emulator, clock=ManualClock()) as emu:
        config = pipecat(emu, private_api_key=PRIVATE, max_sessions=1)

        async def main(client: httpx.AsyncClient) -> str:
            source = source_for(config, client, time, max_attempts=2)
            lease = await source.lease(planned_run("a"))
            await source.release(lease)  # does not raise
            await asyncio.wait_for(source.lease(planned_run("b")), 5)  # the slot is free
            return str(lease.handle)

        with caplog.at_level(logging.WARNING, logger="specrunner"):
            session_id = run_with_client(main)
        first, _ = emu.ledger.sessions
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        f"room source 'lab': Pipecat Cloud stop of session {session_id} of agent 'bot' "
        f"failed: {expected}"
    )
    assert first.ended_at is None  # it ends by itself, with its call
    assert PRIVATE not in caplog.text and KEY not in caplog.text


def test_without_a_private_key_release_calls_nothing() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = pipecat(emu)

        async def main(client: httpx.AsyncClient) -> None:
            source = source_for(config, client, time)
            await source.release(await source.lease(planned_run()))

        run_with_client(main)
        (session,) = emu.ledger.sessions
        assert stops(emu) == []
    assert session.ended_at is None  # it ends with its call


def test_the_private_key_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    # A service that quotes the credential it was given in its error message.
    def service(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            answer = {"dailyRoom": "https://x.daily.co/r", "dailyToken": "tok", "sessionId": "s-1"}
            return httpx.Response(200, json=answer)
        given = request.headers["Authorization"]
        return httpx.Response(403, json={"error": f"{given} may not stop sessions", "code": "403"})

    config = room_config(
        "pipecat_cloud",
        secret=("api_key", "private_api_key"),
        agent_name="bot",
        api_key=KEY,
        private_api_key=PRIVATE,
        api_url="https://api.pipecat.example",
    )
    time = FakeTime()

    async def main() -> PipecatCloudRoomSource:
        async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as client:
            source = source_for(config, client, time)
            await source.release(await source.lease(planned_run()))
            return source

    with caplog.at_level(logging.WARNING, logger="specrunner"):
        source = asyncio.run(main())
    settings = PipecatCloudSettings.from_config(config, {})
    (record,) = caplog.records
    assert record.getMessage().endswith("failed: HTTP 403: Bearer *** may not stop sessions")
    for shown in (caplog.text, repr(source), repr(settings)):
        assert PRIVATE not in shown and KEY not in shown
    assert settings.private_api_key == PRIVATE


def test_an_empty_private_key_is_a_usage_error() -> None:
    config = room_config("pipecat_cloud", agent_name="bot", api_key=KEY, private_api_key="")
    with pytest.raises(UsageError, match="'lab': private_api_key must be a non-empty string"):
        PipecatCloudSettings.from_config(config, {})
