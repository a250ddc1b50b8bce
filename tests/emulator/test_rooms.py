"""Daily rooms and tokens, Pipecat Cloud sessions, and the checks a Cekura caller meets
when it joins its room."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from emukit import BULK, CEKURA, DAILY, DOMAIN, PIPECAT, PRIVATE, serve

from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    ManualClock,
    ScriptedOutcome,
    StaticRoom,
)

RUN = "/test_framework/v1/scenarios/run_scenarios_pipecat/"
AT_CAPACITY = {
    "status": 429,
    "code": "429",
    "message": "Rate limit exceeded. Please try again later",
}
UNAUTHORIZED = {"error": "Unauthorized / token expired", "code": "401"}


def config(**overrides: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "queue_seconds": 1.0,
        "evaluation_seconds": 1.0,
        "defaults": Behaviour(duration=(10.0, 10.0), outcome=ScriptedOutcome.PASSED),
    }
    values.update(overrides)
    return EmulatorConfig(**values)


def create_room(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/rooms", json=body, headers=DAILY)
    assert response.status_code == 200, response.text
    room: dict[str, Any] = response.json()
    return room


def create_token(client: httpx.Client, **properties: Any) -> str:
    response = client.post("/v1/meeting-tokens", json={"properties": properties}, headers=DAILY)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def start_bot(client: httpx.Client, url: str, token: str | None = None) -> None:
    """Put an agent in the room, as a suite's start_bot does (the emulator's own endpoint)."""
    body = {"room_url": url} if token is None else {"room_url": url, "token": token}
    response = client.post("/bot/start", json=body)
    assert response.status_code == 200, response.text


def run_in(client: httpx.Client, url: str, token: str | None = None) -> int:
    item: dict[str, Any] = {"scenario": 1, "pipecat_room_url": url}
    if token is not None:
        item["pipecat_token"] = token
    response = client.post(RUN, json={"scenarios": [item]}, headers=CEKURA)
    assert response.status_code == 200, response.text
    run_id: int = response.json()["runs"][0]["id"]
    return run_id


def run_state(client: httpx.Client, run_id: int) -> dict[str, Any]:
    response = client.get(BULK, params={"run_ids": str(run_id)}, headers=CEKURA)
    assert response.status_code == 200, response.text
    [run] = response.json()
    assert isinstance(run, dict)
    return run


def start_session(
    client: httpx.Client, agent: str = "bot", body: Any = None, headers: dict[str, str] = PIPECAT
) -> httpx.Response:
    return client.post(f"/v1/public/{agent}/start", json=body, headers=headers)


# ---- the room checks when a run's caller joins ------------------------------------------


def finished(client: httpx.Client, clock: ManualClock, run_id: int) -> dict[str, Any]:
    clock.advance(100.0)
    return run_state(client, run_id)


def assert_join_failed(run: dict[str, Any], *words: str) -> None:
    assert run["status"] == "failed", run
    assert run["success"] is False
    assert run["executed_at"] is None
    message = run["error_message"]
    assert message, run
    for word in words:
        assert word in message, message


def test_a_public_configured_room_works_without_a_token() -> None:
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        run_id = run_in(client, f"{DOMAIN}/lab-1")
        run = finished(client, clock, run_id)
        assert run["status"] == "completed"
        assert run["success"] is True
        assert run["error_message"] == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.daily.co/lab-1",
        "https://specrunner-emulator.daily.co.evil.test/lab-1",
        "http://localhost/lab-1",
        "not a url",
        f"{DOMAIN}/",
    ],
)
def test_a_room_outside_the_emulators_daily_domain_fails_the_run(url: str) -> None:
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        run_id = run_in(client, url)
        assert_join_failed(finished(client, clock, run_id), "Could not join the room")


def test_a_room_that_does_not_exist_fails_the_run() -> None:
    with serve(config()) as (_, client, clock):
        assert_join_failed(
            finished(client, clock, run_in(client, f"{DOMAIN}/nowhere")), "nowhere", "not exist"
        )


def test_a_deleted_room_fails_the_run() -> None:
    with serve(config()) as (_, client, clock):
        room = create_room(client, name="gone")
        assert client.delete("/v1/rooms/gone", headers=DAILY).status_code == 200
        assert_join_failed(finished(client, clock, run_in(client, room["url"])), "gone")


def test_an_expired_room_fails_the_run() -> None:
    with serve(config()) as (_, client, clock):
        room = create_room(client, name="brief", properties={"exp": int(time.time()) + 30})
        clock.advance(60.0)
        assert_join_failed(finished(client, clock, run_in(client, room["url"])), "brief")


def test_a_room_that_expires_while_the_run_is_pending_fails_it() -> None:
    with serve(config(queue_seconds=20.0)) as (_, client, clock):
        room = create_room(client, name="brief", properties={"exp": int(time.time()) + 10})
        run_id = run_in(client, room["url"])
        assert run_state(client, run_id)["status"] == "pending"
        assert_join_failed(finished(client, clock, run_id), "brief")


@pytest.fixture
def private_room() -> Iterator[tuple[Emulator, httpx.Client, ManualClock, str]]:
    with serve(config()) as (emu, client, clock):
        room = create_room(client, name="vault", privacy="private")
        create_room(client, name="other", privacy="private")
        start_bot(client, room["url"], create_token(client, room_name="vault"))
        yield emu, client, clock, room["url"]


def test_a_private_room_with_its_token_works(
    private_room: tuple[Emulator, httpx.Client, ManualClock, str],
) -> None:
    emu, client, clock, url = private_room
    exp = int(time.time()) + 3600
    token = create_token(client, room_name="vault", exp=exp)
    assert emu.decode_token(token) == {"room_name": "vault", "exp": exp}
    run = finished(client, clock, run_in(client, url, token))
    assert run["status"] == "completed", run


def test_a_domain_wide_token_opens_a_private_room(
    private_room: tuple[Emulator, httpx.Client, ManualClock, str],
) -> None:
    _, client, clock, url = private_room
    run = finished(client, clock, run_in(client, url, create_token(client, is_owner=True)))
    assert run["status"] == "completed", run


def test_no_token_for_a_private_room_fails_the_run(
    private_room: tuple[Emulator, httpx.Client, ManualClock, str],
) -> None:
    _, client, clock, url = private_room
    assert_join_failed(finished(client, clock, run_in(client, url)), "private", "token")


def test_a_token_for_another_room_fails_the_run(
    private_room: tuple[Emulator, httpx.Client, ManualClock, str],
) -> None:
    _, client, clock, url = private_room
    token = create_token(client, room_name="other")
    assert_join_failed(finished(client, clock, run_in(client, url, token)), "other")


def test_an_expired_token_fails_the_run(
    private_room: tuple[Emulator, httpx.Client, ManualClock, str],
) -> None:
    _, client, clock, url = private_room
    token = create_token(client, room_name="vault", exp=int(time.time()) + 30)
    clock.advance(60.0)
    assert_join_failed(finished(client, clock, run_in(client, url, token)), "expired")


def forge(token: str, **claims: Any) -> str:
    """The emulator's token layout with other claims and the old signature."""
    signature = token.rpartition(".")[2]
    encoded = base64.urlsafe_b64encode(json.dumps(claims, sort_keys=True).encode())
    return f"emu.{encoded.decode().rstrip('=')}.{signature}"


@pytest.mark.parametrize("kind", ["resigned", "garbage", "other-emulator"])
def test_a_forged_token_fails_the_run(
    private_room: tuple[Emulator, httpx.Client, ManualClock, str], kind: str
) -> None:
    emu, client, clock, url = private_room
    genuine = create_token(client, room_name="other")
    if kind == "resigned":
        token = forge(genuine, room_name="vault")
    elif kind == "garbage":
        token = "eyJhbGciOiJIUzI1NiJ9.eyJyIjoidmF1bHQifQ.c2lnbmF0dXJl"
    else:
        with (
            Emulator(EmulatorConfig(seed=99), clock=ManualClock()) as stranger,
            httpx.Client(base_url=stranger.base_url, timeout=5.0) as other,
        ):
            token = create_token(other, room_name="vault")
    assert emu.decode_token(token) is None
    assert_join_failed(finished(client, clock, run_in(client, url, token)), "not valid")


def test_a_forged_token_fails_even_in_a_public_room() -> None:
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        run = finished(client, clock, run_in(client, f"{DOMAIN}/lab-1", "emu.e30.0000"))
        assert_join_failed(run, "not valid")


def test_a_non_ascii_token_fails_the_run_and_polling_keeps_working() -> None:
    # The token is a valid string for the run POST; joining with it must fail the run
    # with an error_message, not break every later poll.
    with serve(config(daily_rooms=(StaticRoom("lab-1"), StaticRoom("lab-2")))) as (
        _,
        client,
        clock,
    ):
        bad = run_in(client, f"{DOMAIN}/lab-1", "emu.e30.jeton-signé")
        good = run_in(client, f"{DOMAIN}/lab-2")
        clock.advance(100.0)
        response = client.get(BULK, params={"run_ids": f"{bad},{good}"}, headers=CEKURA)
        assert response.status_code == 200, response.text
        again = client.get(BULK, params={"run_ids": f"{bad},{good}"}, headers=CEKURA)
        assert again.status_code == 200, again.text
        bad_run, good_run = again.json()
        assert_join_failed(bad_run, "not valid")
        assert good_run["status"] == "completed"


def test_a_second_live_run_in_a_busy_room_fails() -> None:
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        first = run_in(client, f"{DOMAIN}/lab-1")
        second = run_in(client, f"{DOMAIN}/lab-1")
        busy = run_state(client, second)
        assert busy["status"] == "failed"
        assert "Room busy" in busy["error_message"]
        assert str(first) in busy["error_message"]
        clock.advance(2.0)
        third = run_in(client, f"{DOMAIN}/lab-1")  # the first is running now
        assert "Room busy" in run_state(client, third)["error_message"]
        assert finished(client, clock, first)["status"] == "completed"


@pytest.mark.parametrize(
    "alias",
    [f"{DOMAIN}/lab-1/", "https://SPECRUNNER-EMULATOR.daily.co/lab-1", f"{DOMAIN}/lab-1?x=1"],
)
def test_the_same_room_under_another_spelling_of_its_url_is_busy_too(alias: str) -> None:
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        first = run_in(client, f"{DOMAIN}/lab-1")
        clock.advance(2.0)
        second = run_in(client, alias)
        states = [run_state(client, first), run_state(client, second)]
        assert states[0]["status"] == "running"
        # the second caller joins the very room the first is in (the join check accepts
        # the alias), so it must be refused as busy, not run alongside
        assert states[1]["status"] == "failed", [s["status"] for s in states]
        assert "Room busy" in states[1]["error_message"]


def test_a_room_created_after_the_caller_tried_to_join_does_not_help() -> None:
    # The caller tries to join at t = 1 (queue_seconds), when the room does not exist yet;
    # the room is created at t = 5; nobody polled in between.
    with serve(config()) as (_, client, clock):
        run_id = run_in(client, f"{DOMAIN}/late")
        clock.advance(5.0)
        create_room(client, name="late")
        assert_join_failed(finished(client, clock, run_id), "late")


def test_a_room_is_free_again_once_the_call_ended_and_was_polled() -> None:
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        first = run_in(client, f"{DOMAIN}/lab-1")
        clock.advance(11.5)  # the call (1 s queue + 10 s) is over: evaluating
        assert run_state(client, first)["status"] == "evaluating"
        second = run_in(client, f"{DOMAIN}/lab-1")
        assert finished(client, clock, second)["status"] == "completed"


def test_a_room_is_free_again_once_the_call_ended_without_a_poll_in_between() -> None:
    # The first call ended at t = 11; nobody polled Cekura since. A run posted at t = 50
    # must not see the room as busy.
    with serve(config(daily_rooms=(StaticRoom("lab-1"),))) as (_, client, clock):
        first = run_in(client, f"{DOMAIN}/lab-1")
        clock.advance(50.0)
        second = run_in(client, f"{DOMAIN}/lab-1")
        run = finished(client, clock, second)
        assert run["status"] == "completed", run["error_message"]
        assert run_state(client, first)["status"] == "completed"


def test_deleting_a_room_after_the_caller_joined_does_not_undo_the_join() -> None:
    # The run joined at t = 1 (queue_seconds); the room is deleted at t = 5, during the call.
    # Nobody polled in between: the run must still have joined at t = 1.
    with serve(config()) as (_, client, clock):
        room = create_room(client, name="short-lived")
        start_bot(client, room["url"])
        run_id = run_in(client, room["url"])
        clock.advance(5.0)
        assert client.delete("/v1/rooms/short-lived", headers=DAILY).status_code == 200
        run = finished(client, clock, run_id)
        assert run["executed_at"] is not None, run["error_message"]
        assert run["status"] == "completed", run["error_message"]


# ---- Pipecat Cloud -----------------------------------------------------------------------


def test_start_with_create_daily_room_returns_room_token_and_session() -> None:
    with serve(config()) as (emu, client, clock):
        response = start_session(
            client,
            body={
                "createDailyRoom": True,
                "dailyRoomProperties": {"enable_recording": "cloud"},
                "dailyMeetingTokenProperties": {"is_owner": True},
            },
        )
        assert response.status_code == 200, response.text
        data = response.json()
        assert set(data) == {"dailyRoom", "dailyToken", "sessionId"}
        assert uuid.UUID(data["sessionId"]).version == 4
        assert data["dailyRoom"].startswith(f"{DOMAIN}/")
        name = data["dailyRoom"].rsplit("/", 1)[-1]
        claims = emu.decode_token(data["dailyToken"])
        assert claims is not None
        assert claims["room_name"] == name
        assert claims["is_owner"] is True
        room = client.get(f"/v1/rooms/{name}", headers=DAILY).json()
        assert room["privacy"] == "private"
        assert room["config"]["enable_recording"] == "cloud"
        assert room["url"] == data["dailyRoom"]
        [session] = emu.ledger.sessions
        assert (session.session_id, session.agent, session.room) == (data["sessionId"], "bot", name)
        # Cekura's caller can join the private room with the token it was given.
        run = finished(client, clock, run_in(client, data["dailyRoom"], data["dailyToken"]))
        assert run["status"] == "completed", run["error_message"]


def test_start_without_create_daily_room_returns_only_the_session_and_records_the_body() -> None:
    with serve(config()) as (emu, client, _):
        body = {"room_url": f"{DOMAIN}/mine", "token": "tok", "nested": {"n": [1, 2]}}
        response = start_session(client, body={"body": body})
        assert response.status_code == 200, response.text
        data = response.json()
        assert list(data) == ["sessionId"]
        [session] = emu.ledger.sessions
        assert session.session_id == data["sessionId"]
        assert session.body == body
        assert session.room is None
        assert not [r for r in emu.ledger.rooms if r.created_by == "pipecat"]
        empty = start_session(client)  # no body at all
        assert empty.status_code == 200
        assert list(empty.json()) == ["sessionId"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer pk_wrong"}, {"Authorization": "pk_public"}, PRIVATE],
)
def test_start_needs_a_configured_public_key(headers: dict[str, str]) -> None:
    with serve(config(pipecat_keys=frozenset({"pk_public"}))) as (emu, client, _):
        response = start_session(client, body={}, headers=headers)
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
        assert emu.ledger.sessions == []
        assert start_session(client, body={}).status_code == 200


def test_any_bearer_key_is_accepted_when_none_are_configured() -> None:
    with serve(config()) as (_, client, _clock):
        assert start_session(client, headers={"Authorization": "Bearer x"}).status_code == 200
        assert start_session(client, headers={}).status_code == 401


def test_an_unknown_agent_is_404_when_agents_are_configured() -> None:
    with serve(config(pipecat_agents={"bot": 2})) as (emu, client, _):
        response = start_session(client, agent="other", body={})
        assert response.status_code == 404
        body = response.json()
        assert body["code"] == "404"
        assert "other" in body["error"]
        assert emu.ledger.sessions == []
        assert start_session(client, agent="bot", body={}).status_code == 200


def test_capacity_is_429_with_the_documented_body_and_stopping_frees_a_slot() -> None:
    cfg = config(
        pipecat_agents={"bot": 2, "big": 3}, pipecat_private_keys=frozenset({"sk_private"})
    )
    with serve(cfg) as (emu, client, _):
        ids = [start_session(client, body={}).json()["sessionId"] for _ in range(2)]
        full = start_session(client, body={})
        assert full.status_code == 429
        assert full.json() == AT_CAPACITY
        assert start_session(client, agent="big", body={}).status_code == 200  # per agent
        wrong = client.delete(f"/v1/agents/bot/sessions/{ids[0]}", headers=PIPECAT)
        assert wrong.status_code == 401
        assert start_session(client, body={}).status_code == 429
        stop = client.delete(f"/v1/agents/bot/sessions/{ids[0]}", headers=PRIVATE)
        assert stop.status_code == 200
        assert stop.json() == {"status": "terminated", "session_id": ids[0]}
        assert start_session(client, body={}).status_code == 200
        assert start_session(client, body={}).status_code == 429
        stopped = [s for s in emu.ledger.sessions if s.session_id == ids[0]]
        assert [s.ended_by for s in stopped] == ["stopped"]


def test_stopping_an_unknown_session_is_404_and_a_malformed_id_400() -> None:
    with serve(config()) as (emu, client, _):
        session = start_session(client, body={}).json()["sessionId"]
        for path in (f"/v1/agents/bot/sessions/{uuid.uuid4()}", f"/v1/agents/x/sessions/{session}"):
            response = client.delete(path, headers=PRIVATE)
            assert response.status_code == 404
            assert set(response.json()) == {"error", "code"}
            assert response.json()["code"] == "404"
        malformed = client.delete("/v1/agents/bot/sessions/not-a-uuid", headers=PRIVATE)
        assert malformed.status_code == 400
        assert malformed.json()["code"] == "400"
        assert emu.ledger.sessions[0].ended_at is None


def test_the_default_capacity_applies_to_every_agent_name() -> None:
    with serve(config(pipecat_capacity=1)) as (_, client, _clock):
        assert start_session(client, agent="a", body={}).status_code == 200
        assert start_session(client, agent="b", body={}).status_code == 200
        assert start_session(client, agent="a", body={}).status_code == 429


def session_with_call(client: httpx.Client) -> tuple[str, int]:
    data = start_session(client, body={"createDailyRoom": True}).json()
    return data["sessionId"], run_in(client, data["dailyRoom"], data["dailyToken"])


def test_capacity_frees_when_the_cekura_call_in_its_room_ends() -> None:
    with serve(config(pipecat_capacity=1)) as (emu, client, clock):
        session, run_id = session_with_call(client)
        assert start_session(client, body={}).status_code == 429
        clock.advance(5.0)
        assert run_state(client, run_id)["status"] == "running"
        assert start_session(client, body={}).status_code == 429
        clock.advance(6.5)  # the call ended at t = 11
        assert run_state(client, run_id)["status"] == "evaluating"
        assert start_session(client, body={}).status_code == 200
        [record] = [s for s in emu.ledger.sessions if s.session_id == session]
        assert (record.ended_by, record.ended_at) == ("call_ended", 11.0)


def test_capacity_frees_when_the_call_ends_even_if_cekura_was_not_polled() -> None:
    with serve(config(pipecat_capacity=1)) as (_, client, clock):
        session_with_call(client)
        clock.advance(60.0)  # the call ended at t = 11
        response = start_session(client, body={})
        assert response.status_code == 200, response.text


def test_capacity_frees_when_the_call_is_ended_through_cekura() -> None:
    with serve(config(pipecat_capacity=1)) as (_, client, clock):
        _, run_id = session_with_call(client)
        clock.advance(3.0)
        ended = client.post(f"/test_framework/v2/runs/{run_id}/end_call/", headers=CEKURA)
        assert ended.status_code == 200
        assert start_session(client, body={}).status_code == 200


def test_capacity_frees_when_the_call_used_the_join_link_form_of_the_room_url() -> None:
    # Pipecat Cloud's CLI prints the join link as f"{dailyRoom}?t={dailyToken}"; the caller
    # joins that room (the join check accepts the URL), so the bot's session ends with it.
    with serve(config(pipecat_capacity=1)) as (emu, client, clock):
        data = start_session(client, body={"createDailyRoom": True}).json()
        link = f"{data['dailyRoom']}?t={data['dailyToken']}"
        run_id = run_in(client, link, data["dailyToken"])
        clock.advance(12.5)
        assert run_state(client, run_id)["status"] == "completed"
        [record] = emu.ledger.sessions
        assert record.ended_by == "call_ended"
        assert start_session(client, body={}).status_code == 200


def test_sessions_outlive_the_call_when_end_session_with_call_is_off() -> None:
    with serve(config(pipecat_capacity=1, end_session_with_call=False)) as (_, client, clock):
        _, run_id = session_with_call(client)
        clock.advance(100.0)
        assert run_state(client, run_id)["status"] == "completed"
        assert start_session(client, body={}).status_code == 429


def test_capacity_frees_after_max_session_seconds() -> None:
    with serve(config(pipecat_capacity=1, max_session_seconds=120.0)) as (emu, client, clock):
        start_session(client, body={})
        clock.advance(119.0)
        assert start_session(client, body={}).status_code == 429
        clock.advance(1.0)
        assert start_session(client, body={}).status_code == 200
        assert emu.ledger.sessions[0].ended_by == "max_session_duration"


def test_a_pipecat_room_expires_with_its_session() -> None:
    with serve(config(max_session_seconds=120.0)) as (_, client, clock):
        data = start_session(client, body={"createDailyRoom": True}).json()
        name = data["dailyRoom"].rsplit("/", 1)[-1]
        clock.advance(100.0)
        assert client.get(f"/v1/rooms/{name}", headers=DAILY).status_code == 200
        clock.advance(30.0)
        assert client.get(f"/v1/rooms/{name}", headers=DAILY).status_code == 404


def test_a_body_over_1_mb_is_413() -> None:
    with serve(config()) as (emu, client, _):
        big = {"body": {"blob": "x" * 1_000_100}}
        response = start_session(client, body=big)
        assert response.status_code == 413
        assert response.json()["code"] == "413"
        just_under = {"body": {"blob": "x" * 900_000}}
        assert start_session(client, body=just_under).status_code == 200
        assert len(emu.ledger.sessions) == 1


@pytest.mark.parametrize("raw", [b"[]", b'"start"', b"42", b"{nope"])
def test_a_non_object_body_is_400(raw: bytes) -> None:
    with serve(config()) as (emu, client, _):
        response = client.post(
            "/v1/public/bot/start",
            content=raw,
            headers={**PIPECAT, "Content-Type": "application/json"},
        )
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "400"
        assert body["error"]
        assert emu.ledger.sessions == []


def test_non_object_room_properties_are_400() -> None:
    with serve(config()) as (_, client, _clock):
        response = start_session(
            client, body={"createDailyRoom": True, "dailyRoomProperties": ["exp"]}
        )
        assert response.status_code == 400


# ---- Daily -------------------------------------------------------------------------------


def test_create_get_and_delete_a_room() -> None:
    with serve(config()) as (emu, client, clock):
        room = create_room(client, name="Demo_room-1", properties={"enable_chat": True})
        assert room["name"] == "Demo_room-1"
        assert room["url"] == f"{DOMAIN}/Demo_room-1"
        assert room["privacy"] == "public"
        assert room["api_created"] is True
        assert room["config"] == {"enable_chat": True}
        assert uuid.UUID(room["id"])
        assert room["created_at"].endswith("Z")
        got = client.get("/v1/rooms/Demo_room-1", headers=DAILY)
        assert got.status_code == 200
        assert got.json() == room
        clock.advance(3.0)
        deleted = client.delete("/v1/rooms/Demo_room-1", headers=DAILY)
        assert deleted.status_code == 200
        assert deleted.json() == {"deleted": True, "name": "Demo_room-1"}
        for method in ("GET", "DELETE"):
            gone = client.request(method, "/v1/rooms/Demo_room-1", headers=DAILY)
            assert gone.status_code == 404
            assert set(gone.json()) == {"error", "info"}
        [record] = emu.ledger.rooms
        assert (record.name, record.created_by, record.deleted_at) == ("Demo_room-1", "daily", 3.0)


def test_an_unknown_room_is_404_with_error_and_info() -> None:
    with serve(config()) as (_, client, _clock):
        for method in ("GET", "DELETE"):
            response = client.request(method, "/v1/rooms/nothing-here", headers=DAILY)
            assert response.status_code == 404
            body = response.json()
            assert set(body) == {"error", "info"}
            assert "deleted" not in body


@pytest.mark.parametrize("name", ["has space", "dot.name", "slash/x", "é", "", "x" * 129, 12])
def test_room_names_outside_the_charset_are_400(name: Any) -> None:
    with serve(config()) as (emu, client, _):
        response = client.post("/v1/rooms", json={"name": name}, headers=DAILY)
        assert response.status_code == 400
        assert response.json()["error"] == "invalid-request-error"
        assert emu.ledger.rooms == []


def test_a_duplicate_room_name_is_400_until_the_room_is_deleted() -> None:
    with serve(config()) as (_, client, _clock):
        create_room(client, name="twice")
        again = client.post("/v1/rooms", json={"name": "twice"}, headers=DAILY)
        assert again.status_code == 400
        assert again.json()["error"] == "invalid-request-error"
        client.delete("/v1/rooms/twice", headers=DAILY)
        assert create_room(client, name="twice")["name"] == "twice"


def test_a_room_without_a_name_gets_a_generated_one() -> None:
    with serve(config()) as (_, client, _clock):
        first = create_room(client, privacy="private")
        second = create_room(client)
        assert first["name"] != second["name"]
        for room in (first, second):
            assert room["name"]
            assert all(c.isalnum() or c in "-_" for c in room["name"])
            assert room["url"] == f"{DOMAIN}/{room['name']}"
        assert first["privacy"] == "private"
        assert client.get(f"/v1/rooms/{first['name']}", headers=DAILY).status_code == 200


def test_an_expired_room_behaves_as_deleted() -> None:
    with serve(config()) as (emu, client, clock):
        exp = int(time.time()) + 30
        create_room(client, name="ttl", properties={"exp": exp})
        assert client.get("/v1/rooms/ttl", headers=DAILY).status_code == 200
        clock.advance(60.0)
        assert client.get("/v1/rooms/ttl", headers=DAILY).status_code == 404
        gone = client.delete("/v1/rooms/ttl", headers=DAILY)
        assert gone.status_code == 404
        assert gone.json()["deleted"] is True
        assert {"error", "info"} <= set(gone.json())
        assert create_room(client, name="ttl")["name"] == "ttl"  # the name is free again
        assert emu.ledger.rooms[0].deleted_at == 60.0


def test_meeting_tokens_carry_their_properties() -> None:
    with serve(config()) as (emu, client, _):
        properties = {"room_name": "r1", "is_owner": True, "exp": 2_000_000_000, "user_name": "q"}
        token = create_token(client, **properties)
        assert emu.decode_token(token) == properties
        assert emu.decode_token(token + "x") is None
        empty = client.post("/v1/meeting-tokens", headers=DAILY)
        assert empty.status_code == 200
        assert emu.decode_token(empty.json()["token"]) == {}
        bad = client.post("/v1/meeting-tokens", json={"properties": [1]}, headers=DAILY)
        assert bad.status_code == 400
        assert bad.json()["error"] == "invalid-request-error"
        broken = client.post(
            "/v1/meeting-tokens",
            content=b"{",
            headers={**DAILY, "Content-Type": "application/json"},
        )
        assert broken.status_code == 400
        assert broken.json()["error"] == "json-parsing-error"


DAILY_CALLS = [
    ("POST", "/v1/rooms", {"name": "a"}),
    ("GET", "/v1/rooms/a", None),
    ("DELETE", "/v1/rooms/a", None),
    ("POST", "/v1/meeting-tokens", {"properties": {}}),
]


@pytest.mark.parametrize(("method", "path", "body"), DAILY_CALLS)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "daily-key"}, {"Authorization": "Basic abc"}]
)
def test_daily_without_a_bearer_header_is_400(
    method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    with serve(config()) as (emu, client, _):
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"] == "authorization-header-error"
        assert emu.ledger.rooms == []


@pytest.mark.parametrize(("method", "path", "body"), DAILY_CALLS)
def test_daily_with_a_wrong_key_is_401_when_keys_are_configured(
    method: str, path: str, body: Any
) -> None:
    with serve(config(daily_keys=frozenset({"daily-key"}))) as (emu, client, _):
        response = client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
        assert response.status_code == 401
        assert response.json()["error"] == "authentication-error"
        assert "info" in response.json()
        assert emu.ledger.rooms == []
        assert create_room(client, name="ok")["name"] == "ok"


def test_more_than_two_room_deletions_a_second_are_429() -> None:
    with serve(config()) as (_, client, clock):
        for name in ("a", "b", "c", "d"):
            create_room(client, name=name)
        assert client.delete("/v1/rooms/a", headers=DAILY).status_code == 200
        clock.advance(0.5)
        assert client.delete("/v1/rooms/b", headers=DAILY).status_code == 200
        clock.advance(0.25)
        third = client.delete("/v1/rooms/c", headers=DAILY)
        assert third.status_code == 429
        assert third.json()["error"] == "rate-limit-error"
        assert client.get("/v1/rooms/c", headers=DAILY).status_code == 200  # not deleted
        clock.advance(0.25)  # t = 1.0: the first deletion left the window
        assert client.delete("/v1/rooms/c", headers=DAILY).status_code == 200
        assert client.delete("/v1/rooms/d", headers=DAILY).status_code == 429


def test_more_than_twenty_requests_a_second_are_429() -> None:
    with serve(config()) as (_, client, clock):
        create_room(client, name="r")
        answers = [client.get("/v1/rooms/r", headers=DAILY).status_code for _ in range(25)]
        assert answers == [200] * 19 + [429] * 6
        limited = client.post("/v1/meeting-tokens", json={}, headers=DAILY)
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate-limit-error"
        clock.advance(1.0)
        assert client.get("/v1/rooms/r", headers=DAILY).status_code == 200


def test_rate_limits_are_off_when_configured() -> None:
    with serve(config(daily_rate_limit=False)) as (_, client, _clock):
        names = [f"r{i}" for i in range(30)]
        for name in names:
            create_room(client, name=name)
        answers = [client.delete(f"/v1/rooms/{name}", headers=DAILY).status_code for name in names]
        assert answers == [200] * 30


def test_a_session_no_call_came_to_ends_idle_and_frees_its_slot() -> None:
    clock = ManualClock()
    config = EmulatorConfig(pipecat_agents={"bot": 1}, idle_session_seconds=30.0)
    bearer = {"Authorization": "Bearer pk"}
    with Emulator(config, clock=clock) as emu, httpx.Client(base_url=emu.base_url) as client:
        start = client.post("/v1/public/bot/start", json={"createDailyRoom": True}, headers=bearer)
        assert start.status_code == 200
        clock.advance(29)
        assert client.post("/v1/public/bot/start", json={}, headers=bearer).status_code == 429
        clock.advance(2)
        again = client.post("/v1/public/bot/start", json={"createDailyRoom": True}, headers=bearer)
        assert again.status_code == 200
        first = emu.ledger.sessions[0]
        assert (first.ended_by, first.ended_at) == ("idle", 30.0)
        # a session whose room got a run does not end idle
        client.post(
            "/test_framework/v2/scenarios/run_scenarios_pipecat/",
            headers={"X-CEKURA-API-KEY": config.api_key},
            json={
                "scenarios": [
                    {
                        "scenario": 1,
                        "pipecat_room_url": again.json()["dailyRoom"],
                        "pipecat_token": again.json()["dailyToken"],
                    }
                ]
            },
        )
        clock.advance(3)  # the call is running past the idle time of its session
        clock.advance(28)
        assert emu.ledger.sessions[1].ended_by != "idle"
