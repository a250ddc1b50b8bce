"""Bounded memory: the ledger keeps counts of everything and details of a window; final
runs, ended sessions and rooms of no more use are forgotten beyond `keep_finished`, and a
forgotten id answers as an unknown one."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from emukit import BULK, CEKURA, DAILY, DOMAIN, PIPECAT, PRIVATE, serve

from specrunner.cekura import CekuraClient
from specrunner.cekura_http import AiohttpRequester
from specrunner.emulator import (
    Behaviour,
    EmulatorConfig,
    ScriptedOutcome,
    StaticRoom,
)
from specrunner.emulator.ledger import Window

RUN = "/test_framework/v2/scenarios/run_scenarios_pipecat/"


def config(**overrides: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "queue_seconds": 1.0,
        "evaluation_seconds": 1.0,
        "defaults": Behaviour(duration=(5.0, 5.0), outcome=ScriptedOutcome.PASSED),
        "daily_rooms": tuple(StaticRoom(f"lab-{i}") for i in range(10)),
    }
    values.update(overrides)
    return EmulatorConfig(**values)


def post(client: httpx.Client, *rooms: int) -> tuple[int, list[int]]:
    entries = [{"scenario": 1, "pipecat_room_url": f"{DOMAIN}/lab-{room}"} for room in rooms]
    response = client.post(RUN, json={"scenarios": entries}, headers=CEKURA)
    assert response.status_code == 200, response.text
    answer = response.json()
    return answer["id"], [run["id"] for run in answer["runs"]]


def bulk_ids(client: httpx.Client, ids: list[int]) -> list[int]:
    response = client.get(BULK, params={"run_ids": ",".join(map(str, ids))}, headers=CEKURA)
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()]


# ---- the window ------------------------------------------------------------------------------


def test_a_window_keeps_the_last_entries_and_counts_them_all() -> None:
    window: Window[int] = Window(3)
    assert window == [] and window.total == 0
    window.extend(range(5))
    assert window == [2, 3, 4]
    assert (window.total, window.dropped) == (5, 2)
    window += [5]
    assert window == [3, 4, 5] and window[0] == 3 and window[-1] == 5
    assert window[:2] == [3, 4]
    with pytest.raises(TypeError):
        window.insert(0, 9)


def test_the_ledger_keeps_details_of_a_window_and_counts_everything() -> None:
    with serve(config(ledger_details=4)) as (emu, client, _):
        for room in range(6):
            post(client, room)
        ledger = client.get("/_emulator/ledger").json()
        assert [r["request_seq"] for r in ledger["runs"]] == [3, 4, 5, 6]
        assert [r["seq"] for r in ledger["requests"]] == [3, 4, 5, 6]
        assert ledger["totals"] == {"requests": 6, "runs": 6, "rooms": 10, "sessions": 0}
        assert len(ledger["rooms"]) == 4 and ledger["details_kept"] == 4
        assert emu.ledger.runs.total == 6


# ---- final runs ------------------------------------------------------------------------------


def test_the_oldest_finished_results_are_forgotten_beyond_the_window() -> None:
    with serve(config(keep_finished=3)) as (emu, client, clock):
        posted = [post(client, room) for room in range(5)]
        clock.advance(60.0)
        every = [ids[0] for _, ids in posted]
        # the five ended together; the three newest stay answerable
        assert bulk_ids(client, every) == every[2:]
        for result_id, _ in posted[:2]:
            gone = client.get(f"/test_framework/v2/results/{result_id}/", headers=CEKURA)
            assert gone.status_code == 404
            assert gone.json() == {"detail": "Not found."}
        assert (
            client.post(f"/test_framework/v2/runs/{every[0]}/end_call/", headers=CEKURA).status_code
            == 404
        )
        kept = client.get(f"/test_framework/v2/results/{posted[4][0]}/", headers=CEKURA)
        assert kept.status_code == 200 and kept.json()["status"] == "completed"
        health = client.get("/_emulator/health").json()
        assert (health["runs_kept"], health["runs_forgotten"], health["live_runs"]) == (3, 2, 0)
        assert len(emu.ledger.runs) == 5  # the ledger's window is another matter


def test_a_result_with_a_live_run_is_never_forgotten() -> None:
    cfg = config(keep_finished=2, scenarios={9: Behaviour(duration=(500.0, 500.0))})
    with serve(cfg) as (_, client, clock):
        entries = [
            {"scenario": 1, "pipecat_room_url": f"{DOMAIN}/lab-0"},
            {"scenario": 9, "pipecat_room_url": f"{DOMAIN}/lab-1"},
        ]
        answer = client.post(RUN, json={"scenarios": entries}, headers=CEKURA).json()
        mixed = [run["id"] for run in answer["runs"]]
        for room in range(2, 8):
            post(client, room)
        clock.advance(60.0)  # the quick runs ended; the long one is live
        assert bulk_ids(client, mixed) == mixed
        clock.advance(600.0)
        for room in range(2, 5):  # later results push the mixed one out once it is final
            post(client, room)
        clock.advance(60.0)
        assert bulk_ids(client, mixed) == []


def test_a_forgotten_run_is_left_out_of_specrunner_s_poll_as_an_unknown_id_is() -> None:
    with serve(config(keep_finished=1)) as (emu, client, clock):
        _, [old] = post(client, 0)
        _, [new] = post(client, 1)
        clock.advance(60.0)

        async def poll() -> list[dict[str, Any]]:
            async with AiohttpRequester.session(emu.base_url) as session:
                cekura = CekuraClient(
                    AiohttpRequester(session), api_key=emu.config.api_key, base_url=emu.base_url
                )
                return await cekura.poll([old, new, 999_999])

        found = asyncio.run(poll())
    assert [run["id"] for run in found] == [new]


# ---- sessions and rooms ----------------------------------------------------------------------


def test_ended_sessions_beyond_the_window_are_forgotten() -> None:
    with serve(config(keep_finished=2)) as (emu, client, _):
        ids = []
        for _ in range(3):
            started = client.post(
                "/v1/public/bot/start", json={"createDailyRoom": True}, headers=PIPECAT
            )
            ids.append(started.json()["sessionId"])
        for session in ids:
            stop = client.delete(f"/v1/agents/bot/sessions/{session}", headers=PRIVATE)
            assert stop.status_code == 200
        again = [
            client.delete(f"/v1/agents/bot/sessions/{s}", headers=PRIVATE).status_code for s in ids
        ]
        assert again == [404, 200, 200]
        assert len(emu.app.pipecat.sessions) == 2
        # their rooms, left without a bot, are forgotten the same way
        rooms = [s.room for s in emu.ledger.sessions]
        found = [client.get(f"/v1/rooms/{r}", headers=DAILY).status_code for r in rooms]
        assert found == [404, 200, 200]


def test_a_deleted_room_is_forgotten_at_once() -> None:
    with serve(config(daily_rooms=())) as (emu, client, _):
        client.post("/v1/rooms", json={"name": "brief"}, headers=DAILY)
        assert "brief" in emu.app.daily.rooms
        assert client.delete("/v1/rooms/brief", headers=DAILY).status_code == 200
        assert "brief" not in emu.app.daily.rooms
        assert client.delete("/v1/rooms/brief", headers=DAILY).status_code == 404
        assert emu.ledger.rooms[0].deleted_at == 0.0


def test_expired_rooms_are_forgotten_beyond_the_window() -> None:
    with serve(config(daily_rooms=(), keep_finished=2)) as (emu, client, clock):
        exp = int(emu.app.daily.wall(0.0)) + 10
        for name in ("e1", "e2", "e3"):
            client.post("/v1/rooms", json={"name": name, "properties": {"exp": exp}}, headers=DAILY)
        clock.advance(20.0)
        client.get("/_emulator/health")  # any request prunes
        assert sorted(emu.app.daily.rooms) == ["e2", "e3"]
        gone = client.delete("/v1/rooms/e3", headers=DAILY)
        assert (gone.status_code, gone.json()["deleted"]) == (404, True)  # expired, as Daily says
        assert client.delete("/v1/rooms/e1", headers=DAILY).json() == {
            "error": "not-found",
            "info": "room e1 not found",
        }


def test_rooms_deleted_before_their_exp_do_not_pile_up_in_the_expiry_queue() -> None:
    with serve(config(daily_rooms=(), daily_rate_limit=False)) as (emu, client, _):
        exp = int(emu.app.daily.wall(0.0)) + 3600
        for i in range(300):
            client.post(
                "/v1/rooms", json={"name": f"r{i}", "properties": {"exp": exp}}, headers=DAILY
            )
            client.delete(f"/v1/rooms/r{i}", headers=DAILY)
        assert emu.app.daily.rooms == {}
        assert len(emu.app.daily._expiring) <= 64 + 1
