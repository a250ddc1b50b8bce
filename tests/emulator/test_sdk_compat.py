"""The official clients, unchanged, against the emulator: Cekura's SDK and Pipecat Cloud's.

Each client is pointed at the emulator the way a user points it at the real service: by
the environment variables `Emulator.environment()` returns (or the SDK's own arguments).
All traffic stays on 127.0.0.1: proxy variables are removed for these tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from cekura import AsyncCekura, AuthenticationError, Cekura, NotFoundError
from pipecatcloud.config import config as pipecat_config
from pipecatcloud.exception import AgentStartError
from pipecatcloud.session import Session, SessionParams

from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    ManualClock,
    ScriptedOutcome,
    StaticRoom,
)

DOMAIN = "specrunner-emulator"
PASS, FAIL, LONG = 1, 2, 9
ROOMS = tuple(StaticRoom(f"lab{i}") for i in range(1, 7))
CONFIG = EmulatorConfig(
    reply_order="in_order",  # these tests pin the order of answers
    queue_seconds=0.1,
    evaluation_seconds=0.2,
    daily_rooms=ROOMS,
    scenarios={
        PASS: Behaviour(name="passes", outcome=ScriptedOutcome.PASSED, duration=(1.0, 1.0)),
        FAIL: Behaviour(name="fails", outcome=ScriptedOutcome.FAILED, duration=(1.0, 1.0)),
        LONG: Behaviour(name="long call", outcome=ScriptedOutcome.PASSED, duration=(600.0, 600.0)),
    },
)
# Emulator time runs 20x faster than real time: 1.3 s of a run's life takes 65 ms, so the
# SDK's own polling loop (`results.wait`) can be driven for real in a bounded time.
FAST = replace(CONFIG, time_scale=20.0)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def room_url(name: str) -> str:
    return f"https://{DOMAIN}.daily.co/{name}"


def entry(scenario: int, room: str) -> dict[str, Any]:
    return {"scenario": scenario, "pipecat_room_url": room_url(room)}


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, ManualClock]]:
    """The emulator on a ManualClock, with the environment pointing every client at it."""
    clock = ManualClock()
    with Emulator(CONFIG, clock=clock) as emu:
        assert urlparse(emu.base_url).hostname == "127.0.0.1"
        for name, value in emu.environment().items():
            monkeypatch.setenv(name, value)
        yield emu, clock


def served(emu: Emulator) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in emu.ledger.requests]


# --------------------------------------------------------------------------------------
# Cekura


def test_cekura_sync_client(emulator: tuple[Emulator, ManualClock]) -> None:
    emu, clock = emulator
    with Cekura() as client:  # CEKURA_API_URL and CEKURA_API_KEY from the environment
        created = client.scenarios.run_pipecat(
            scenarios=[entry(PASS, "lab1"), entry(FAIL, "lab2")], agent=7
        )
        assert (created["status"], created["agent"], len(created["runs"])) == ("pending", 7, 2)
        run_ids = [run["id"] for run in created["runs"]]
        assert [r.pipecat_room_url for r in emu.ledger.runs] == [room_url("lab1"), room_url("lab2")]

        result = client.results.get(created["id"])
        assert result["status"] == "pending"
        assert sorted(result["runs"]) == sorted(str(i) for i in run_ids)

        runs = client.results.get_runs(run_ids)  # sends ids=, not run_ids=
        assert [run["id"] for run in runs] == run_ids
        assert {run["status"] for run in runs} == {"pending"}

        clock.advance(0.5)
        assert {run["status"] for run in client.results.get_runs(run_ids)} == {"running"}
        clock.advance(5.0)
        final = client.results.get(created["id"])
        assert final["status"] == "completed"
        assert (final["total_runs_count"], final["success_runs_count"]) == (2, 1)
        outcome = {run["id"]: run["success"] for run in client.results.get_runs(run_ids)}
        assert outcome == {run_ids[0]: True, run_ids[1]: False}

        long = client.scenarios.run_pipecat(
            scenarios=[entry(LONG, "lab3"), entry(LONG, "lab4"), entry(LONG, "lab5")]
        )
        long_ids = [run["id"] for run in long["runs"]]
        clock.advance(0.5)
        assert client.runs.end_call(long_ids[0]) == {}  # 200 with no body
        statuses = [run["status"] for run in client.results.get_runs(long_ids)]
        assert statuses == ["cancelled", "running", "running"]
        assert client.results.end_calls(long["id"]) == {}
        statuses = [run["status"] for run in client.results.get_runs(long_ids)]
        assert statuses == ["cancelled", "cancelled", "cancelled"]

        with pytest.raises(NotFoundError):
            client.results.get(987654)

    # The SDK's paths (no trailing slash) are answered directly: no redirect, no 404.
    paths = {(method, path) for method, path, status in served(emu) if status == 200}
    assert {
        ("POST", "/test_framework/v1/scenarios/run_scenarios_pipecat"),
        ("GET", f"/test_framework/v1/results/{created['id']}"),
        ("GET", "/test_framework/v1/runs/bulk"),
        ("POST", f"/test_framework/v1/runs-external/{long_ids[0]}/end_call"),
        ("POST", f"/test_framework/v1/results/{long['id']}/end_calls"),
    } <= paths
    assert {status for _, _, status in served(emu)} == {200, 404}


def test_cekura_wrong_key_raises_authentication_error(
    emulator: tuple[Emulator, ManualClock],
) -> None:
    emu, _ = emulator
    with Cekura(api_key="not-the-key", base_url=emu.base_url) as client:
        with pytest.raises(AuthenticationError):
            client.scenarios.run_pipecat(scenarios=[entry(PASS, "lab1")])
        with pytest.raises(AuthenticationError):
            client.results.get(501)
        with pytest.raises(AuthenticationError):
            client.results.get_runs([1001])
    assert emu.ledger.runs == []
    assert {status for _, _, status in served(emu)} == {401}


def test_cekura_results_wait_polls_until_final() -> None:
    with Emulator(FAST) as emu:
        with Cekura(api_key=emu.config.api_key, base_url=emu.base_url) as client:
            created = client.scenarios.run_pipecat(scenarios=[entry(PASS, "lab1")])
            # poll_interval is the SDK's own argument; a fraction of a second keeps the
            # loop short, and timeout bounds it (at most 100 polls).
            final = client.results.wait(created["id"], poll_interval=0.05, timeout=5)
            assert final["status"] == "completed"
            assert final["success_runs_count"] == 1

            stuck = client.scenarios.run_pipecat(scenarios=[entry(LONG, "lab2")])
            with pytest.raises(TimeoutError):
                client.results.wait(stuck["id"], poll_interval=0.05, timeout=0.2)
            client.results.end_calls(stuck["id"])
        polls = [p for _, p, _ in served(emu) if p == f"/test_framework/v1/results/{created['id']}"]
        assert 2 <= len(polls) <= 100, "wait() saw the result before it was final"


def test_cekura_async_client() -> None:
    async def scenario(emu: Emulator) -> None:
        async with AsyncCekura(api_key=emu.config.api_key, base_url=emu.base_url) as client:
            quick = await client.scenarios.run_pipecat(scenarios=[entry(PASS, "lab1")])
            long = await client.scenarios.run_pipecat(
                scenarios=[entry(LONG, "lab2"), entry(LONG, "lab3")]
            )
            long_ids = [run["id"] for run in long["runs"]]
            final = await client.results.wait(quick["id"], poll_interval=0.05, timeout=5)
            assert (final["status"], final["success_runs_count"]) == ("completed", 1)

            assert await client.runs.end_call(long_ids[0]) == {}
            assert await client.results.end_calls(long["id"]) == {}
            runs = await client.results.get_runs(long_ids)
            assert [run["status"] for run in runs] == ["cancelled", "cancelled"]
            result = await client.results.get(long["id"])
            assert set(result["runs"]) == {str(i) for i in long_ids}

        async with AsyncCekura(api_key="not-the-key", base_url=emu.base_url) as client:
            with pytest.raises(AuthenticationError):
                await client.results.get(quick["id"])

    with Emulator(FAST) as emu:
        asyncio.run(asyncio.wait_for(scenario(emu), timeout=10))
        assert len(emu.ledger.runs) == 3


# --------------------------------------------------------------------------------------
# Pipecat Cloud

PUBLIC_KEY = "pk_sdk"
PIPECAT = EmulatorConfig(
    pipecat_agents={"bot": 1, "roomless": 5},
    pipecat_keys=frozenset({PUBLIC_KEY}),
)


def start(agent: str, key: str, params: SessionParams | None = None) -> dict[str, Any]:
    session = Session(agent_name=agent, api_key=key, params=params)
    result = asyncio.run(asyncio.wait_for(session.start(), timeout=10))
    assert isinstance(result, dict)
    return result


def start_error(agent: str, key: str) -> AgentStartError:
    with pytest.raises(AgentStartError) as caught:
        start(agent, key, SessionParams(data={"try": agent}))
    return caught.value


@pytest.fixture
def pipecat_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with Emulator(PIPECAT, clock=ManualClock()) as emu:
        # pipecatcloud.config reads PIPECAT_API_HOST from the environment on every call.
        monkeypatch.setenv("PIPECAT_API_HOST", emu.base_url)
        assert pipecat_config.get("api_host") == emu.base_url
        yield emu


def test_pipecat_session_start_with_a_daily_room(pipecat_emulator: Emulator) -> None:
    emu = pipecat_emulator
    data = {"suite": "sdk-compat", "case": 1}
    answer = start(
        "bot",
        PUBLIC_KEY,
        SessionParams(use_daily=True, data=data, daily_room_properties={"enable_chat": True}),
    )
    assert set(answer) == {"dailyRoom", "dailyToken", "sessionId"}
    uuid.UUID(answer["sessionId"])

    room = urlparse(answer["dailyRoom"]).path.strip("/")
    assert answer["dailyRoom"] == f"https://{DOMAIN}.daily.co/{room}"
    [session] = emu.ledger.sessions
    assert (session.session_id, session.agent, session.room, session.body) == (
        answer["sessionId"],
        "bot",
        room,
        data,
    )
    claims = emu.decode_token(answer["dailyToken"])
    assert claims is not None
    assert claims["room_name"] == room
    assert [(r.name, r.created_by) for r in emu.ledger.rooms] == [(room, "pipecat")]
    with httpx.Client(base_url=emu.base_url, trust_env=False, timeout=10) as client:
        config = client.get(
            f"/v1/rooms/{room}", headers={"Authorization": "Bearer daily_emulator"}
        ).json()["config"]
    assert config["enable_chat"] is True, "daily_room_properties reach the room"
    assert served(emu) == [("POST", "/v1/public/bot/start", 200), ("GET", f"/v1/rooms/{room}", 200)]


def test_pipecat_session_start_without_a_room(pipecat_emulator: Emulator) -> None:
    emu = pipecat_emulator
    data = {"room_url": f"https://{DOMAIN}.daily.co/lab1", "token": "tok"}
    answer = start("roomless", PUBLIC_KEY, SessionParams(data=data))
    assert set(answer) == {"sessionId"}
    assert [(s.agent, s.room, s.body) for s in emu.ledger.sessions] == [("roomless", None, data)]


def test_pipecat_session_errors(pipecat_emulator: Emulator) -> None:
    emu = pipecat_emulator
    start("bot", PUBLIC_KEY)  # "bot" has room for one session

    at_capacity = start_error("bot", PUBLIC_KEY)
    assert at_capacity.error_code == "429"
    unknown = start_error("ghost", PUBLIC_KEY)
    assert unknown.error_code == "404"
    assert "ghost" in unknown.message
    wrong_key = start_error("roomless", "pk_wrong")
    assert wrong_key.error_code == "401"
    requests = len(emu.ledger.requests)
    no_key = start_error("roomless", "")
    assert no_key.error_code == "PCC-1002"
    assert len(emu.ledger.requests) == requests, "a missing key is refused before any request"

    assert len(emu.ledger.sessions) == 1
    assert [status for _, _, status in served(emu)] == [200, 429, 404, 401]
