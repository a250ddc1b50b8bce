"""Pipecat Cloud sessions against the emulator's start endpoint, over loopback."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest
from roomkit import FakeTime, planned_run, requests_to, room_config, run_with_client

from specrunner.emulator import Emulator, EmulatorConfig, Fault, ManualClock
from specrunner.models import RoomConfig
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.build import build_room_source
from specrunner.rooms.pipecat_cloud import PipecatCloudRoomSource

KEY = "pk_public_key_1234"


def pipecat(emu: Emulator, **values: Any) -> RoomConfig:
    values.setdefault("agent_name", "bot")
    values.setdefault("api_key", KEY)
    values.setdefault("api_url", emu.base_url)
    return room_config("pipecat_cloud", secret=("api_key",), **values)


def source_for(
    config: RoomConfig, client: httpx.AsyncClient, time: FakeTime, **options: Any
) -> PipecatCloudRoomSource:
    source = build_room_source(config, http=client, environ={}, retry=time.policy(**options))
    assert isinstance(source, PipecatCloudRoomSource)
    return source


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


@pytest.mark.parametrize(
    "fault",
    [
        Fault(endpoint="pipecat.start", status=503, nth=frozenset({1})),
        Fault(endpoint="pipecat.start", status=500, nth=frozenset({1})),
        Fault(endpoint="pipecat.start", drop=True, nth=frozenset({1})),
    ],
    ids=["503", "500", "dropped"],
)
def test_server_errors_and_dropped_connections_are_retried(fault: Fault) -> None:
    time = FakeTime()
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        config = pipecat(emu)

        async def main(client: httpx.AsyncClient) -> RoomLease:
            return await source_for(config, client, time).lease(planned_run())

        lease = run_with_client(main)
        starts = requests_to(emu.ledger, "pipecat.start")
    assert len(starts) == 2
    assert starts[-1].status == 200
    assert len(time.waits) == 1
    assert lease.token


def test_retry_after_is_honoured() -> None:
    time = FakeTime()
    fault = Fault(endpoint="pipecat.start", status=429, retry_after=7, nth=frozenset({1}))
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:
        config = pipecat(emu)

        async def main(client: httpx.AsyncClient) -> RoomLease:
            return await source_for(config, client, time).lease(planned_run())

        run_with_client(main)
    assert len(time.waits) == 1
    assert time.waits[0] >= 7


def test_gives_up_after_the_policy_s_attempts() -> None:
    time = FakeTime()
    fault = Fault(endpoint="pipecat.start", status=503)
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
        "HTTP 503: Service unavailable (after 3 attempts)"
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
    assert KEY not in message
