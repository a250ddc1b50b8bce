"""The ledger: what the emulator received and created, over HTTP and in Python, so tests
can prove that every run came from exactly one entry of one request."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    Fault,
    ManualClock,
    ScriptedOutcome,
    StaticRoom,
)

CEKURA = {"X-CEKURA-API-KEY": "specrunner-emulator-key"}
BEARER = {"Authorization": "Bearer key"}
DOMAIN = "https://specrunner-emulator.daily.co"
RUN = "/test_framework/v2/scenarios/run_scenarios_pipecat/"
BULK = "/test_framework/v2/runs/bulk/"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)


def config(*faults: Fault) -> EmulatorConfig:
    return EmulatorConfig(
        faults=faults,
        daily_rooms=tuple(StaticRoom(f"lab-{i}") for i in range(1, 21)),
        defaults=Behaviour(duration=(5.0, 5.0), outcome=ScriptedOutcome.PASSED),
        reply_order="in_order",  # these tests pin the order of answers
    )


@contextmanager
def serve(*faults: Fault) -> Iterator[tuple[Emulator, httpx.Client, ManualClock]]:
    clock = ManualClock()
    with (
        Emulator(config(*faults), clock=clock) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        yield emu, client, clock


def ledger(client: httpx.Client) -> dict[str, Any]:
    response = client.get("/_emulator/ledger")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def test_the_ledger_records_requests_runs_rooms_and_sessions() -> None:
    with serve() as (_, client, clock):
        payloads = [{"n": 0, "tags": ["a"]}, None, "text"]
        body = {
            "scenarios": [
                {"scenario": 11, "pipecat_room_url": f"{DOMAIN}/lab-1", "publish_data_message": p}
                for p in payloads
            ],
            "agent": 4,
        }
        body["scenarios"][1]["pipecat_token"] = "tok-1"
        del body["scenarios"][1]["publish_data_message"]
        posted = client.post(RUN, json=body, headers=CEKURA).json()
        clock.advance(1.5)
        client.get(BULK, params={"run_ids": "1001"}, headers=CEKURA)
        client.post("/v1/rooms", json={"name": "scratch"}, headers=BEARER)
        clock.advance(1.0)
        client.delete("/v1/rooms/scratch", headers=BEARER)
        session = client.post(
            "/v1/public/bot/start", json={"body": {"k": "v"}}, headers=BEARER
        ).json()
        client.get("/v1/rooms/scratch", headers=BEARER)
        client.post(RUN, json={"scenarios": []}, headers=CEKURA)

        data = ledger(client)
        assert set(data) == {
            "requests",
            "runs",
            "rooms",
            "sessions",
            "totals",
            "details_kept",
            "notices",
        }
        assert data["totals"] == {"requests": 7, "runs": 3, "rooms": 21, "sessions": 1}
        assert (data["details_kept"], data["notices"]) == (10_000, [])

        requests = data["requests"]
        assert [(r["method"], r["endpoint"], r["status"]) for r in requests] == [
            ("POST", "cekura.run", 200),
            ("GET", "cekura.bulk", 200),
            ("POST", "daily.create_room", 200),
            ("DELETE", "daily.delete_room", 200),
            ("POST", "pipecat.start", 200),
            ("GET", "daily.get_room", 404),
            ("POST", "cekura.run", 400),
        ]
        assert [r["seq"] for r in requests] == list(range(1, 8))
        assert [r["at"] for r in requests] == [0.0, 1.5, 1.5, 2.5, 2.5, 2.5, 2.5]
        assert requests[0]["path"] == RUN
        assert requests[1]["path"] == BULK  # the query string is not part of the path
        assert all(r["fault"] is None for r in requests)

        runs = data["runs"]
        assert [r["run_id"] for r in runs] == [run["id"] for run in posted["runs"]]
        assert [r["entry"] for r in runs] == [0, 1, 2]
        assert {r["request_seq"] for r in runs} == {1}
        assert {r["result_id"] for r in runs} == {posted["id"]}
        assert [r["publish_data_message"] for r in runs] == payloads
        assert [r["pipecat_token"] for r in runs] == [None, "tok-1", None]
        assert {r["pipecat_room_url"] for r in runs} == {f"{DOMAIN}/lab-1"}
        assert {(r["scenario"], r["agent"]) for r in runs} == {(11, 4)}

        rooms = {r["name"]: r for r in data["rooms"]}
        assert rooms["lab-1"]["created_by"] == "config"
        assert rooms["lab-1"]["deleted_at"] is None
        assert rooms["scratch"] == {
            "name": "scratch",
            "url": f"{DOMAIN}/scratch",
            "created_at": 1.5,
            "created_by": "daily",
            "deleted_at": 2.5,
            "bot_started_at": None,
        }
        assert rooms["lab-1"]["bot_started_at"] == 0.0  # a configured room has its agent

        [recorded] = data["sessions"]
        assert recorded == {
            "session_id": session["sessionId"],
            "agent": "bot",
            "room": None,
            "started_at": 2.5,
            "body": {"k": "v"},
            "ended_at": None,
            "ended_by": None,
        }


def test_the_python_api_matches_the_http_ledger() -> None:
    with serve() as (emu, client, clock):
        client.post(
            RUN,
            json={"scenarios": [{"scenario": 1, "pipecat_room_url": f"{DOMAIN}/lab-2"}]},
            headers=CEKURA,
        )
        started = client.post(
            "/v1/public/bot/start", json={"createDailyRoom": True}, headers=BEARER
        ).json()
        clock.advance(3.0)
        client.delete(f"/v1/agents/bot/sessions/{started['sessionId']}", headers=BEARER)
        over_http = ledger(client)
        assert over_http == emu.ledger.as_json()
        assert over_http["requests"] == [dataclasses.asdict(r) for r in emu.ledger.requests]
        assert over_http["runs"] == [dataclasses.asdict(r) for r in emu.ledger.runs]
        assert over_http["rooms"] == [dataclasses.asdict(r) for r in emu.ledger.rooms]
        assert over_http["sessions"] == [dataclasses.asdict(r) for r in emu.ledger.sessions]
        [session] = emu.ledger.sessions
        assert (session.ended_at, session.ended_by) == (3.0, "stopped")
        assert session.room == started["dailyRoom"].rsplit("/", 1)[-1]
        pipecat_rooms = [r for r in emu.ledger.rooms if r.created_by == "pipecat"]
        assert [r.url for r in pipecat_rooms] == [started["dailyRoom"]]
        # reading the ledger is not itself a request
        assert ledger(client)["requests"] == over_http["requests"]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(
    batches=st.lists(
        st.lists(st.tuples(st.integers(1, 5), json_values), min_size=1, max_size=6),
        min_size=1,
        max_size=3,
    )
)
def test_n_entries_give_n_runs_each_from_its_own_entry(
    batches: list[list[tuple[int, Any]]],
) -> None:
    with serve() as (emu, client, _):
        answers = []
        for batch in batches:
            body = {
                "scenarios": [
                    {
                        "scenario": scenario,
                        "pipecat_room_url": f"{DOMAIN}/lab-{i + 1}",
                        "publish_data_message": payload,
                    }
                    for i, (scenario, payload) in enumerate(batch)
                ]
            }
            response = client.post(RUN, json=body, headers=CEKURA)
            assert response.status_code == 200
            answers.append(response.json())
        runs = emu.ledger.runs
        assert len(runs) == sum(len(b) for b in batches)
        assert len({r.run_id for r in runs}) == len(runs)
        seqs = [r.seq for r in emu.ledger.requests if r.endpoint == "cekura.run"]
        for batch, answer, seq in zip(batches, answers, seqs, strict=True):
            mine = [r for r in runs if r.request_seq == seq]
            assert [r.entry for r in mine] == list(range(len(batch)))
            assert [(r.scenario, r.publish_data_message) for r in mine] == batch
            assert [r.run_id for r in mine] == [run["id"] for run in answer["runs"]]
            assert {r.result_id for r in mine} == {answer["id"]}


def test_an_applied_then_500_post_and_its_retry_create_each_entry_once_per_request() -> None:
    fault = Fault(endpoint="cekura.run", applied_then_status=500, nth=frozenset({1}))
    with serve(fault) as (_, client, _clock):
        body = {
            "scenarios": [
                {
                    "scenario": 7,
                    "pipecat_room_url": f"{DOMAIN}/lab-{i}",
                    "publish_data_message": {"entry": i},
                }
                for i in range(1, 5)
            ]
        }
        failed = client.post(RUN, json=body, headers=CEKURA)
        assert failed.status_code == 500
        retried = client.post(RUN, json=body, headers=CEKURA)
        assert retried.status_code == 200
        data = ledger(client)
        runs = data["runs"]
        assert len(runs) == 8
        requests = [r for r in data["requests"] if r["endpoint"] == "cekura.run"]
        assert [(r["status"], r["fault"]) for r in requests] == [
            (500, "applied_then_500"),
            (200, None),
        ]
        per_request = Counter(r["request_seq"] for r in runs)
        assert per_request == {requests[0]["seq"]: 4, requests[1]["seq"]: 4}
        for seq in per_request:
            mine = [r for r in runs if r["request_seq"] == seq]
            assert [r["entry"] for r in mine] == [0, 1, 2, 3]
            assert [r["publish_data_message"] for r in mine] == [{"entry": i} for i in range(1, 5)]
        assert [r["run_id"] for r in runs if r["request_seq"] == requests[1]["seq"]] == [
            run["id"] for run in retried.json()["runs"]
        ]
        # the first request's runs exist for Cekura too (and hold their rooms)
        first_ids = [r["run_id"] for r in runs if r["request_seq"] == requests[0]["seq"]]
        listed = client.get(
            BULK, params={"run_ids": ",".join(map(str, first_ids))}, headers=CEKURA
        ).json()
        assert [r["id"] for r in listed] == first_ids
        assert {r["status"] for r in listed} == {"pending"}
        assert {r["status"] for r in retried.json()["runs"]} == {"pending"}


def test_a_session_ended_by_max_session_seconds_shows_when_it_ended() -> None:
    cfg = EmulatorConfig(max_session_seconds=60.0)
    clock = ManualClock()
    with (
        Emulator(cfg, clock=clock) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        client.post("/v1/public/bot/start", json={}, headers=BEARER)
        clock.advance(100.0)
        [session] = ledger(client)["sessions"]
        assert (session["ended_at"], session["ended_by"]) == (60.0, "max_session_duration")
        client.post("/v1/public/bot/start", json={}, headers=BEARER)
        first = ledger(client)["sessions"][0]
        assert (first["ended_at"], first["ended_by"]) == (60.0, "max_session_duration")


def test_requests_to_paths_it_does_not_serve_are_recorded_too() -> None:
    with serve() as (emu, client, _):
        assert client.get("/test_framework/v2/nothing/here/").status_code == 404
        assert client.get(RUN).status_code == 405
        recorded = [(r["endpoint"], r["status"]) for r in ledger(client)["requests"]]
        assert recorded == [("unknown", 404), ("unknown", 405)]
        assert [r.endpoint for r in emu.ledger.requests] == ["unknown", "unknown"]
