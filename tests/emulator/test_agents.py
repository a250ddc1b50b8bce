"""A run meets an agent in its room, or fails as a real call does: rooms from the
configuration (`bot`), Daily rooms a start_bot request reached, Pipecat Cloud sessions."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from emukit import BULK, CEKURA, DAILY, DOMAIN, PIPECAT, PRIVATE, serve

import specrunner
from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    Fault,
    ManualClock,
    ScriptedOutcome,
    StaticRoom,
    load_config,
)

RUN = "/test_framework/v1/scenarios/run_scenarios_pipecat/"
NEVER_JOINED = "The agent never joined the room"


def config(**overrides: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "queue_seconds": 1.0,
        "evaluation_seconds": 1.0,
        "defaults": Behaviour(duration=(10.0, 10.0), outcome=ScriptedOutcome.PASSED),
    }
    values.update(overrides)
    return EmulatorConfig(**values)


def daily_room(client: httpx.Client, name: str) -> tuple[str, str]:
    room = client.post("/v1/rooms", json={"name": name, "privacy": "private"}, headers=DAILY)
    assert room.status_code == 200, room.text
    token = client.post(
        "/v1/meeting-tokens", json={"properties": {"room_name": name}}, headers=DAILY
    )
    assert token.status_code == 200, token.text
    return room.json()["url"], token.json()["token"]


def start_bot(client: httpx.Client, body: Any) -> httpx.Response:
    return client.post("/bot/start", json=body)


def run_in(client: httpx.Client, url: str, token: str | None = None) -> tuple[int, int]:
    entry: dict[str, Any] = {"scenario": 1, "pipecat_room_url": url}
    if token is not None:
        entry["pipecat_token"] = token
    response = client.post(RUN, json={"scenarios": [entry]}, headers=CEKURA)
    assert response.status_code == 200, response.text
    return response.json()["id"], response.json()["runs"][0]["id"]


def after_the_call(client: httpx.Client, clock: ManualClock, run_id: int) -> dict[str, Any]:
    clock.advance(100.0)
    response = client.get(BULK, params={"run_ids": str(run_id)}, headers=CEKURA)
    [run] = response.json()
    assert isinstance(run, dict)
    return run


def assert_never_joined(run: dict[str, Any], room: str) -> None:
    assert run["status"] == "failed", run
    assert run["success"] is False
    assert run["executed_at"] is None  # no call took place
    assert run["error_message"].startswith(NEVER_JOINED), run["error_message"]
    assert room in run["error_message"]
    assert run["metadata"]["ended_reason"] == "pipecat-connection-failed"


# ---- Daily rooms made through the API ------------------------------------------------------


def test_a_run_in_a_daily_room_nobody_started_a_bot_in_fails() -> None:
    with serve(config()) as (emu, client, clock):
        url, token = daily_room(client, "empty")
        result_id, run_id = run_in(client, url, token)
        assert_never_joined(after_the_call(client, clock, run_id), "empty")
        result = client.get(f"/test_framework/v2/results/{result_id}/", headers=CEKURA).json()
        assert result["status"] == "failed"  # an infrastructure failure, as Cekura counts it
        assert result["failed_infrastructure_runs"] == [run_id]
        [record] = emu.ledger.rooms
        assert record.bot_started_at is None


def test_a_start_bot_request_puts_an_agent_in_the_room() -> None:
    with serve(config()) as (emu, client, clock):
        url, token = daily_room(client, "staffed")
        clock.advance(0.5)
        started = start_bot(client, {"room_url": url, "token": token, "persona": "calm"})
        assert started.status_code == 200
        assert started.json() == {"status": "started", "room_url": url}
        _, run_id = run_in(client, url, token)
        run = after_the_call(client, clock, run_id)
        assert (run["status"], run["success"], run["error_message"]) == ("completed", True, "")
        [record] = emu.ledger.rooms
        assert record.bot_started_at == 0.5
        assert [r.endpoint for r in emu.ledger.requests].count("bot.start") == 1


def test_the_agent_stays_for_the_next_run_in_the_same_room() -> None:
    with serve(config()) as (_, client, clock):
        url, token = daily_room(client, "reused")
        assert start_bot(client, {"room_url": url, "token": token}).status_code == 200
        _, first = run_in(client, url, token)
        after_the_call(client, clock, first)
        _, second = run_in(client, url, token)
        assert after_the_call(client, clock, second)["status"] == "completed"


def test_a_bot_started_after_the_post_but_before_the_call_counts() -> None:
    with serve(config()) as (_, client, clock):
        url, token = daily_room(client, "late-bot")
        _, run_id = run_in(client, url, token)
        clock.advance(0.5)  # the call starts at 1.0 (queue_seconds)
        assert start_bot(client, {"room_url": url, "token": token}).status_code == 200
        assert after_the_call(client, clock, run_id)["status"] == "completed"


def test_a_bot_started_after_the_call_began_is_too_late() -> None:
    with serve(config()) as (_, client, clock):
        url, token = daily_room(client, "too-late")
        _, run_id = run_in(client, url, token)
        clock.advance(2.0)
        client.get(BULK, params={"run_ids": str(run_id)}, headers=CEKURA)
        assert start_bot(client, {"room_url": url, "token": token}).status_code == 200
        assert_never_joined(after_the_call(client, clock, run_id), "too-late")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "JSON object"),
        ({"token": "t"}, "room_url"),
        ({"room_url": ""}, "room_url"),
        ({"room_url": f"{DOMAIN}/nowhere"}, "does not exist"),
        ({"room_url": "https://elsewhere.daily.co/x"}, "not a room of this Daily domain"),
        ({"room_url": f"{DOMAIN}/locked"}, "private and no token"),
        ({"room_url": f"{DOMAIN}/locked", "token": "forged"}, "not valid"),
        ({"room_url": f"{DOMAIN}/locked", "token": 7}, "token must be a string"),
    ],
    ids=["list", "no-url", "blank-url", "unknown", "other-domain", "private", "forged", "int"],
)
def test_a_bot_that_cannot_join_is_refused_and_the_room_stays_empty(body: Any, words: str) -> None:
    with serve(config()) as (_, client, clock):
        url, token = daily_room(client, "locked")
        refused = start_bot(client, body)
        assert refused.status_code == 400
        assert words in refused.json()["error"], refused.json()
        _, run_id = run_in(client, url, token)
        assert_never_joined(after_the_call(client, clock, run_id), "locked")


def test_a_body_that_is_not_json_is_refused() -> None:
    with serve(config()) as (_, client, _clock):
        refused = client.post("/bot/start", content=b"{nope")
        assert refused.status_code == 400
        assert "JSON" in refused.json()["error"]


def test_faults_apply_to_the_bot_start_endpoint() -> None:
    fault = Fault(endpoint="bot.start", status=503, retry_after=2, nth=frozenset({1}))
    with serve(config(faults=(fault,))) as (emu, client, _clock):
        url, token = daily_room(client, "flaky")
        first = start_bot(client, {"room_url": url, "token": token})
        assert (first.status_code, first.headers["Retry-After"]) == (503, "2")
        assert emu.app.daily.rooms["flaky"].has_bot is False  # nothing was done
        assert start_bot(client, {"room_url": url, "token": token}).status_code == 200


def test_the_bot_start_url_is_on_the_emulator() -> None:
    with Emulator(clock=ManualClock()) as emu:
        assert emu.bot_start_url == f"{emu.base_url}/bot/start"


# ---- rooms from the configuration -----------------------------------------------------------


def test_configured_rooms_have_an_agent_unless_bot_is_false(tmp_path: Path) -> None:
    path = tmp_path / "emulator.yaml"
    path.write_text("daily:\n  rooms:\n    - {name: lab}\n    - {name: empty-lab, bot: false}\n")
    loaded = load_config(str(path))
    assert loaded.daily_rooms == (StaticRoom("lab"), StaticRoom("empty-lab", bot=False))
    with serve(config(daily_rooms=loaded.daily_rooms)) as (emu, client, clock):
        _, staffed = run_in(client, f"{DOMAIN}/lab")
        _, empty = run_in(client, f"{DOMAIN}/empty-lab")
        assert after_the_call(client, clock, staffed)["status"] == "completed"
        assert_never_joined(after_the_call(client, clock, empty), "empty-lab")
        by_name = {r.name: r for r in emu.ledger.rooms}
        assert (by_name["lab"].bot_started_at, by_name["empty-lab"].bot_started_at) == (0.0, None)


# ---- Pipecat Cloud sessions -----------------------------------------------------------------


def start_session(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/public/bot/start", json=body, headers=PIPECAT)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_session_s_own_room_has_its_bot_until_the_session_ends() -> None:
    with serve(config(end_session_with_call=False)) as (_, client, clock):
        session = start_session(client, {"createDailyRoom": True})
        url, token = session["dailyRoom"], session["dailyToken"]
        _, first = run_in(client, url, token)
        assert after_the_call(client, clock, first)["status"] == "completed"
        stopped = client.delete(f"/v1/agents/bot/sessions/{session['sessionId']}", headers=PRIVATE)
        assert stopped.status_code == 200
        _, second = run_in(client, url, token)  # the room lives on, its bot does not
        assert_never_joined(after_the_call(client, clock, second), url.rsplit("/", 1)[1])


def test_a_session_ended_with_its_call_leaves_no_bot_for_another_run() -> None:
    with serve(config()) as (_, client, clock):
        session = start_session(client, {"createDailyRoom": True})
        url, token = session["dailyRoom"], session["dailyToken"]
        _, first = run_in(client, url, token)
        assert after_the_call(client, clock, first)["status"] == "completed"
        _, second = run_in(client, url, token)
        assert_never_joined(after_the_call(client, clock, second), url.rsplit("/", 1)[1])


def test_a_session_whose_body_names_an_existing_room_puts_its_bot_there() -> None:
    with serve(config()) as (emu, client, clock):
        url, token = daily_room(client, "existing")
        clock.advance(2.0)
        start_session(client, {"body": {"room_url": url, "token": token}})
        [session] = emu.ledger.sessions
        assert session.room == "existing"
        _, run_id = run_in(client, url, token)
        assert after_the_call(client, clock, run_id)["status"] == "completed"
        assert session.ended_by == "call_ended"  # its bot left with the caller
        [room] = emu.ledger.rooms
        assert room.bot_started_at == 2.0


def test_a_session_whose_bot_cannot_join_the_room_it_names_puts_no_bot_there() -> None:
    with serve(config()) as (emu, client, clock):
        url, token = daily_room(client, "guarded")
        start_session(client, {"body": {"room_url": url}})  # a private room, no token
        assert emu.ledger.sessions[0].room is None
        _, run_id = run_in(client, url, token)
        assert_never_joined(after_the_call(client, clock, run_id), "guarded")


def test_require_bot_off_lets_calls_happen_in_empty_rooms() -> None:
    with serve(config(require_bot=False)) as (_, client, clock):
        url, token = daily_room(client, "unmodelled")
        _, run_id = run_in(client, url, token)
        assert after_the_call(client, clock, run_id)["status"] == "completed"


def test_require_bot_is_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "emulator.yaml"
    path.write_text("cekura:\n  require_bot: false\n")
    assert load_config(str(path)).require_bot is False
    assert EmulatorConfig().require_bot is True


# ---- specrunner's daily source against it -----------------------------------------------------


def daily_suite(start_bot: bool) -> dict[str, Any]:
    room: dict[str, Any] = {"source": "daily", "api_key": "{{ env.DAILY_API_KEY }}"}
    if start_bot:
        room["start_bot"] = {"url": "{{ env.BOT_START_URL }}"}
    return {
        "version": 1,
        "name": "daily-bots",
        "rooms": {"lab": room},
        "defaults": {"repeat": 2, "timeout": "1m"},
        "scenarios": [{"id": 30, "name": "a"}, {"id": 31, "name": "b"}],
    }


@pytest.mark.parametrize("start_bot", [True, False], ids=["start_bot", "no-bot"])
def test_a_daily_suite_needs_start_bot_for_its_calls_to_meet_an_agent(
    tmp_path: Path, start_bot: bool
) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(daily_suite(start_bot)))
    cfg = EmulatorConfig(
        queue_seconds=0.02,
        evaluation_seconds=0.02,
        defaults=Behaviour(duration=(0.05, 0.1), outcome=ScriptedOutcome.PASSED),
        daily_rate_limit=False,
    )
    with Emulator(cfg) as emu, contextlib.chdir(tmp_path):
        result = specrunner.run(str(path), environ=emu.environment(), poll_interval=0.05)
        bots = [r for r in emu.ledger.requests if r.endpoint == "bot.start"]
        rooms = list(emu.ledger.rooms)
    assert len(result.records) == 4
    assert all(r.run_id is not None for r in result.records)
    assert all(room.deleted_at is not None for room in rooms)
    if start_bot:
        assert [r.status for r in bots] == [200] * 4
        assert {r.outcome.value for r in result.records} == {"passed"}
    else:
        assert bots == []
        assert {r.outcome.value for r in result.records} == {"error"}
        assert all(NEVER_JOINED in (r.error or "") for r in result.records), result.records
