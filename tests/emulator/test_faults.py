"""Injected faults: statuses with Retry-After, latency, dropped connections, work done
before a 5xx, and when faults hit (nth, seeded rate, every endpoint)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

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
RUN = "/test_framework/v1/scenarios-external/run_scenarios_pipecat/"
BULK = "/test_framework/v2/runs/bulk/"


def config(*faults: Fault, seed: int = 0) -> EmulatorConfig:
    return EmulatorConfig(
        seed=seed,
        faults=faults,
        daily_rooms=tuple(StaticRoom(f"lab-{i}") for i in range(1, 6)),
        daily_rate_limit=False,
        defaults=Behaviour(duration=(5.0, 5.0), outcome=ScriptedOutcome.PASSED),
    )


@contextmanager
def serve(*faults: Fault, seed: int = 0) -> Iterator[tuple[Emulator, httpx.Client, ManualClock]]:
    clock = ManualClock()
    with (
        Emulator(config(*faults, seed=seed), clock=clock) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        yield emu, client, clock


def entries(count: int) -> list[dict[str, Any]]:
    return [
        {"scenario": i + 1, "pipecat_room_url": f"{DOMAIN}/lab-{i + 1}", "publish_data_message": i}
        for i in range(count)
    ]


def post_run(client: httpx.Client, count: int = 1) -> httpx.Response:
    return client.post(RUN, json={"scenarios": entries(count)}, headers=CEKURA)


def bulk(client: httpx.Client, ids: str = "1001") -> httpx.Response:
    return client.get(BULK, params={"run_ids": ids}, headers=CEKURA)


# One request to each endpoint, in an order where every one of them can succeed.
CALLS: list[tuple[str, str, str, Any, dict[str, str]]] = [
    ("cekura.run", "POST", RUN, {"scenarios": entries(1)}, CEKURA),
    ("cekura.bulk", "GET", f"{BULK}?run_ids=1001", None, CEKURA),
    ("cekura.result", "GET", "/test_framework/v2/results/501/", None, CEKURA),
    ("cekura.end_call", "POST", "/test_framework/v2/runs/1001/end_call/", None, CEKURA),
    ("cekura.end_calls", "POST", "/test_framework/v2/results/501/end_calls/", None, CEKURA),
    ("pipecat.start", "POST", "/v1/public/bot/start", {}, BEARER),
    ("daily.create_room", "POST", "/v1/rooms", {"name": "made"}, BEARER),
    ("daily.get_room", "GET", "/v1/rooms/made", None, BEARER),
    ("daily.create_token", "POST", "/v1/meeting-tokens", {"properties": {}}, BEARER),
    ("daily.delete_room", "DELETE", "/v1/rooms/made", None, BEARER),
]


def call(
    client: httpx.Client, method: str, path: str, body: Any, headers: dict[str, str]
) -> httpx.Response:
    return client.request(method, path, json=body, headers=headers)


# ---- statuses ---------------------------------------------------------------------------


def test_a_429_carries_retry_after_on_every_service() -> None:
    fault = Fault(endpoint="*", status=429, retry_after=7)
    with serve(fault) as (emu, client, _):
        cekura = bulk(client)
        assert cekura.status_code == 429
        assert cekura.headers["Retry-After"] == "7"
        assert cekura.json() == {"detail": "Request was throttled."}
        pipecat = client.post("/v1/public/bot/start", json={}, headers=BEARER)
        assert pipecat.status_code == 429
        assert pipecat.headers["Retry-After"] == "7"
        assert pipecat.json() == {
            "status": 429,
            "code": "429",
            "message": "Rate limit exceeded. Please try again later",
        }
        daily = client.get("/v1/rooms/lab-1", headers=BEARER)
        assert daily.status_code == 429
        assert daily.json()["error"] == "rate-limit-error"
        assert emu.ledger.sessions == []
        assert [r.fault for r in emu.ledger.requests] == ["429"] * 3


def test_a_fractional_retry_after_and_none_without_it() -> None:
    with serve(
        Fault(endpoint="cekura.bulk", status=429, retry_after=1.5),
        Fault(endpoint="cekura.result", status=429),
    ) as (_, client, _clock):
        assert bulk(client).headers["Retry-After"] == "1.5"
        plain = client.get("/test_framework/v2/results/501/", headers=CEKURA)
        assert plain.status_code == 429
        assert "Retry-After" not in plain.headers


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_answered_before_any_work(status: int) -> None:
    with serve(Fault(endpoint="cekura.run", status=status)) as (emu, client, _):
        response = post_run(client, 2)
        assert response.status_code == status
        assert response.json() == {"detail": "A server error occurred."}
        assert emu.ledger.runs == []
        assert bulk(client, "1001,1002").json() == []
        started = client.post("/v1/public/bot/start", json={}, headers=BEARER)
        assert started.status_code == 200  # other endpoints are not affected
        [record] = [r for r in emu.ledger.requests if r.endpoint == "cekura.run"]
        assert (record.status, record.fault) == (status, str(status))


def test_server_errors_on_pipecat_and_daily_use_their_bodies() -> None:
    with serve(
        Fault(endpoint="pipecat.start", status=503), Fault(endpoint="daily.create_room", status=502)
    ) as (emu, client, _):
        pipecat = client.post("/v1/public/bot/start", json={}, headers=BEARER)
        assert pipecat.status_code == 503
        assert pipecat.json() == {"error": "Service unavailable", "code": "503"}
        daily = client.post("/v1/rooms", json={"name": "x"}, headers=BEARER)
        assert daily.status_code == 502
        assert daily.json()["error"] == "server-error"
        assert [r.created_by for r in emu.ledger.rooms] == ["config"] * 5
        assert emu.ledger.sessions == []


# ---- latency ----------------------------------------------------------------------------


def test_latency_delays_the_answer() -> None:
    with serve(Fault(endpoint="cekura.bulk", latency=0.3)) as (_, client, _clock):
        began = time.monotonic()
        response = bulk(client)
        took = time.monotonic() - began
        assert response.status_code == 200
        assert 0.3 <= took < 3.0
        began = time.monotonic()
        assert client.get("/test_framework/v2/results/501/", headers=CEKURA).status_code == 404
        assert time.monotonic() - began < 0.25


def test_latency_adds_up_and_combines_with_a_status() -> None:
    with serve(
        Fault(endpoint="*", latency=0.1),
        Fault(endpoint="cekura.bulk", latency=0.15),
        Fault(endpoint="cekura.bulk", status=503),
    ) as (emu, client, _):
        began = time.monotonic()
        response = bulk(client)
        took = time.monotonic() - began
        assert response.status_code == 503
        assert 0.25 <= took < 3.0
        assert emu.ledger.requests[-1].fault == "503"


def test_latency_times_out_a_client_with_a_shorter_timeout() -> None:
    with serve(Fault(endpoint="cekura.bulk", latency=0.5, nth=frozenset({1}))) as (
        _,
        client,
        _clock,
    ):
        with pytest.raises(httpx.ReadTimeout):
            client.get(BULK, params={"run_ids": "1"}, headers=CEKURA, timeout=0.1)
        assert bulk(client).status_code == 200


# ---- dropped connections ----------------------------------------------------------------


def test_a_dropped_request_gets_no_answer_and_is_recorded() -> None:
    with serve(Fault(endpoint="cekura.bulk", drop=True, nth=frozenset({1}))) as (emu, client, _):
        with pytest.raises(httpx.TransportError) as caught:
            bulk(client)
        assert isinstance(
            caught.value, httpx.RemoteProtocolError | httpx.ReadError | httpx.ConnectError
        )
        [record] = emu.ledger.requests
        assert (record.endpoint, record.status, record.fault) == ("cekura.bulk", None, "drop")
        assert bulk(client).status_code == 200  # the second request is answered
        assert [r.status for r in emu.ledger.requests] == [None, 200]


def test_a_dropped_run_post_creates_nothing() -> None:
    with serve(Fault(endpoint="cekura.run", drop=True)) as (emu, client, _):
        with pytest.raises(httpx.TransportError):
            post_run(client, 3)
        assert emu.ledger.runs == []
        assert client.get("/_emulator/ledger").json()["requests"][0]["fault"] == "drop"


# ---- applied, then a 5xx ----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503])
def test_applied_then_status_creates_the_runs_but_answers_an_error(status: int) -> None:
    fault = Fault(endpoint="cekura.run", applied_then_status=status, nth=frozenset({1}))
    with serve(fault) as (emu, client, clock):
        response = post_run(client, 3)
        assert response.status_code == status
        assert response.json() == {"detail": "A server error occurred."}
        created = [r.run_id for r in emu.ledger.runs]
        assert len(created) == 3
        assert [r.entry for r in emu.ledger.runs] == [0, 1, 2]
        listed = bulk(client, ",".join(map(str, created))).json()
        assert [r["id"] for r in listed] == created
        clock.advance(100.0)
        assert {r["status"] for r in bulk(client, ",".join(map(str, created))).json()} == {
            "completed"
        }
        record = next(r for r in emu.ledger.requests if r.endpoint == "cekura.run")
        assert (record.status, record.fault) == (status, f"applied_then_{status}")


def test_applied_then_status_touches_only_posts() -> None:
    with serve(Fault(endpoint="*", applied_then_status=500)) as (emu, client, _):
        assert bulk(client).status_code == 200
        assert client.get("/v1/rooms/lab-1", headers=BEARER).status_code == 200
        assert client.delete("/v1/rooms/lab-1", headers=BEARER).status_code == 200
        assert post_run(client).status_code == 500
        made = client.post("/v1/rooms", json={"name": "done"}, headers=BEARER)
        assert made.status_code == 500
        assert made.json()["error"] == "server-error"
        assert client.get("/v1/rooms/done", headers=BEARER).status_code == 200  # it was made
        assert len(emu.ledger.runs) == 1


# ---- when faults hit ---------------------------------------------------------------------


def test_nth_hits_exactly_those_requests_per_endpoint() -> None:
    with serve(
        Fault(endpoint="cekura.bulk", status=503, nth=frozenset({2, 4})),
        Fault(endpoint="cekura.result", status=500, nth=frozenset({1})),
    ) as (_, client, _clock):
        results = []
        for _ in range(6):
            results.append(bulk(client).status_code)
            # requests to another endpoint do not move the bulk endpoint's count
            client.get("/test_framework/v2/results/501/", headers=CEKURA)
        assert results == [200, 503, 200, 503, 200, 200]


def test_nth_counts_every_request_to_the_endpoint_on_every_path() -> None:
    with serve(Fault(endpoint="cekura.bulk", status=502, nth=frozenset({3}))) as (_, client, _):
        paths = [
            "/test_framework/v2/runs/bulk/",
            "/test_framework/v1/runs/bulk",
            "/test_framework/v1/runs-external/bulk/",
            "/test_framework/v2/runs/bulk",
        ]
        answers = [
            client.get(p, params={"run_ids": "1"}, headers=CEKURA).status_code for p in paths
        ]
        assert answers == [200, 200, 502, 200]
        wrong_key = client.get(BULK, params={"run_ids": "1"}, headers={"X-CEKURA-API-KEY": "no"})
        assert wrong_key.status_code == 401


def statuses_with_rate(seed: int, count: int = 40) -> list[int]:
    with serve(Fault(endpoint="cekura.bulk", status=500, rate=0.5), seed=seed) as (
        _,
        client,
        _clock,
    ):
        return [bulk(client).status_code for _ in range(count)]


def test_rate_is_reproducible_with_the_same_seed() -> None:
    first = statuses_with_rate(3)
    assert first == statuses_with_rate(3)
    assert set(first) == {200, 500}
    assert 8 <= first.count(500) <= 32
    assert statuses_with_rate(4) != first


@pytest.mark.parametrize(("rate", "expected"), [(0.0, {200}), (1.0, {500})])
def test_rate_zero_and_one(rate: float, expected: set[int]) -> None:
    with serve(Fault(endpoint="cekura.bulk", status=500, rate=rate)) as (_, client, _clock):
        assert {bulk(client).status_code for _ in range(15)} == expected


def test_a_star_fault_applies_to_every_endpoint() -> None:
    with serve(Fault(endpoint="*", status=503, nth=frozenset({1}))) as (emu, client, _):
        first = [call(client, m, p, b, h).status_code for _, m, p, b, h in CALLS]
        assert first == [503] * len(CALLS)
        second = {e: call(client, m, p, b, h).status_code for e, m, p, b, h in CALLS}
        assert second == {endpoint: 200 for endpoint, *_ in CALLS}
        endpoints = {r.endpoint for r in emu.ledger.requests if r.fault == "503"}
        assert endpoints == {endpoint for endpoint, *_ in CALLS}


def test_faults_never_touch_the_control_endpoints() -> None:
    with serve(
        Fault(endpoint="*", drop=True),
        Fault(endpoint="*", latency=1.0),
        Fault(endpoint="*", status=500),
    ) as (emu, client, _):
        began = time.monotonic()
        for _ in range(3):
            ledger = client.get("/_emulator/ledger")
            assert ledger.status_code == 200
            assert ledger.json() == emu.ledger.as_json()
            assert client.get("/_emulator/health").json()["status"] == "ok"
        assert time.monotonic() - began < 1.0
        assert emu.ledger.requests == []
