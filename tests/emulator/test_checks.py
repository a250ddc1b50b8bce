"""What the real services refuse, refused the same way: Daily's room requests (unknown
properties, wrong types, names too long) and rate limits, Pipecat Cloud's start request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emukit import DAILY, PIPECAT, serve

from specrunner.emulator import EmulatorConfig
from specrunner.emulator.daily_rules import ROOM_PROPERTIES


def refused_room(client: httpx.Client, body: Any) -> str:
    """The `info` of Daily's 400 for this POST /rooms body."""
    response = client.post("/v1/rooms", json=body, headers=DAILY)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert set(answer) == {"error", "info"}
    assert answer["error"] == "invalid-request-error"
    info: str = answer["info"]
    return info


# ---- Daily: POST /rooms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        ({"enable_chats": True}, "unknown property 'enable_chats'"),
        ({"exp": "soon"}, "properties.exp must be a unix time in seconds"),
        ({"exp": True}, "properties.exp must be a unix time in seconds"),
        ({"exp": None}, "properties.exp"),
        ({"nbf": [1]}, "properties.nbf"),
        ({"max_participants": 2.5}, "properties.max_participants must be an integer"),
        ({"max_participants": "2"}, "properties.max_participants must be an integer"),
        ({"enable_chat": "yes"}, "properties.enable_chat must be a boolean"),
        ({"eject_at_room_exp": 1}, "properties.eject_at_room_exp must be a boolean"),
        ({"sfu_switchover": "half"}, "properties.sfu_switchover must be a number"),
        ({"lang": "xx"}, "properties.lang must be a language code"),
        ({"geo": 5}, "properties.geo must be a string"),
        ({"permissions": []}, "properties.permissions must be an object"),
        ({"streaming_endpoints": {}}, "properties.streaming_endpoints must be a list"),
    ],
)
def test_unknown_room_properties_and_wrong_types_are_refused(
    properties: dict[str, Any], words: str
) -> None:
    with serve(EmulatorConfig()) as (emu, client, _):
        info = refused_room(client, {"name": "r", "properties": properties})
        assert words in info, info
        assert emu.ledger.rooms == []
        assert client.get("/v1/rooms/r", headers=DAILY).status_code == 404


def test_documented_properties_of_the_right_types_are_accepted() -> None:
    good = {
        "nbf": 1_700_000_000,
        "exp": 4_102_444_800.5,  # a float, as Pipecat's DailyRESTHelper sends
        "max_participants": 2,
        "eject_after_elapsed": 600,
        "enable_chat": False,
        "eject_at_room_exp": True,
        "enable_prejoin_ui": False,
        "sfu_switchover": 0.5,
        "enable_recording": "cloud",
        "lang": "pt-BR",
        "geo": "us-west-2",
        "sip": {"display_name": "x"},
        "streaming_endpoints": [],
    }
    with serve(EmulatorConfig()) as (_, client, _clock):
        response = client.post("/v1/rooms", json={"properties": good}, headers=DAILY)
        assert response.status_code == 200, response.text
        assert response.json()["config"] == good


def test_every_documented_room_property_has_a_type() -> None:
    assert len(ROOM_PROPERTIES) == 48
    assert {"exp", "nbf", "max_participants", "eject_at_room_exp", "sip"} <= set(ROOM_PROPERTIES)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"nmae": "x"}, "unknown parameter 'nmae'"),
        ({"name": None}, "name: only letters"),
        ({"privacy": "secret"}, "privacy must be"),
        ({"privacy": None}, "privacy must be"),
        ({"properties": []}, "properties must be an object"),
    ],
)
def test_unknown_parameters_and_bad_values_are_refused(body: dict[str, Any], words: str) -> None:
    with serve(EmulatorConfig()) as (_, client, _clock):
        assert words in refused_room(client, body)


@pytest.mark.parametrize(
    ("domain", "longest"),
    [("specrunner-emulator", 22), ("acme", 37)],
)
def test_a_name_and_its_domain_together_have_at_most_41_characters(
    domain: str, longest: int
) -> None:
    with serve(EmulatorConfig(daily_domain=domain)) as (_, client, _clock):
        fits = client.post("/v1/rooms", json={"name": "n" * longest}, headers=DAILY)
        assert fits.status_code == 200, fits.text
        info = refused_room(client, {"name": "m" * (longest + 1)})
        assert "too long" in info and "41" in info, info


def test_a_generated_name_fits_the_limit() -> None:
    with serve(EmulatorConfig()) as (_, client, _clock):
        room = client.post("/v1/rooms", json={}, headers=DAILY).json()
        assert len("specrunner-emulator") + len(room["name"]) <= 41


# ---- Daily: rate limits ------------------------------------------------------------------


def test_at_most_50_room_deletions_in_30_seconds() -> None:
    with serve(EmulatorConfig()) as (_, client, clock):
        for i in range(60):
            clock.advance(0.06)  # within the general limit
            assert (
                client.post("/v1/rooms", json={"name": f"r{i}"}, headers=DAILY).status_code == 200
            )
        clock.advance(5.0)
        began = clock.now()
        answers = []
        for i in range(51):
            answers.append(client.delete(f"/v1/rooms/r{i}", headers=DAILY).status_code)
            clock.advance(0.55)  # under 2 a second
        assert answers == [200] * 50 + [429], answers
        refused = client.delete("/v1/rooms/r51", headers=DAILY)
        assert refused.json()["error"] == "rate-limit-error"
        clock.advance(began + 30.0 - clock.now() + 0.01)  # the first deletion left the window
        assert client.delete("/v1/rooms/r50", headers=DAILY).status_code == 200


# ---- Pipecat Cloud: POST /start ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"createDailyRoom": "yes"}, "createDailyRoom must be a boolean"),
        ({"createDailyRoom": 1}, "createDailyRoom must be a boolean"),
        ({"createDailyRoom": None}, "createDailyRoom must be a boolean"),
        ({"body": "hello"}, "body must be an object"),
        ({"body": ["a"]}, "body must be an object"),
        ({"body": 3}, "body must be an object"),
        ({"body": None}, "body must be an object"),
        ({"enableDefaultIceServers": "true"}, "enableDefaultIceServers must be a boolean"),
        ({"transport": "sip"}, "transport must be one of daily, webrtc, websocket"),
        ({"createDailyRoom": True, "dailyRoomProperties": None}, "dailyRoomProperties"),
        ({"createDailyRoom": True, "dailyMeetingTokenProperties": 1}, "dailyMeetingToken"),
    ],
)
def test_a_start_request_of_the_wrong_shape_is_400_with_error_and_code(
    body: dict[str, Any], words: str
) -> None:
    with serve(EmulatorConfig()) as (emu, client, _clock):
        response = client.post("/v1/public/bot/start", json=body, headers=PIPECAT)
        assert response.status_code == 400
        answer = response.json()
        assert set(answer) == {"error", "code"}  # Pipecat Cloud's ErrorResponse
        assert answer["code"] == "400"
        assert words in answer["error"], answer
        assert emu.ledger.sessions == [] and emu.ledger.rooms == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"createDailyRoom": False, "body": {}},
        {"createDailyRoom": True, "transport": "daily", "enableDefaultIceServers": False},
        {"transport": "webrtc", "body": {"room_url": "x"}},
    ],
)
def test_start_requests_of_the_documented_shape_are_accepted(body: dict[str, Any]) -> None:
    with serve(EmulatorConfig()) as (_, client, _clock):
        response = client.post("/v1/public/bot/start", json=body, headers=PIPECAT)
        assert response.status_code == 200, response.text
