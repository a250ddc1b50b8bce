"""Cekura's API as the emulator serves it over loopback HTTP: the run POST, bulk runs,
results and end calls (validation, auth, paths, counts, cancellation, the order of the
runs in the POST's answer)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from emukit import BULK, DOMAIN, serve

from specrunner.cekura import CekuraClient, Submitted
from specrunner.cekura_http import AiohttpRequester
from specrunner.emulator import (
    Behaviour,
    EmulatorConfig,
    ScriptedOutcome,
    StaticRoom,
)
from specrunner.emulator.config import ReplyOrder

KEY = "specrunner-emulator-key"
AUTH = {"X-CEKURA-API-KEY": KEY}
RUN = "/test_framework/v1/scenarios/run_scenarios_pipecat/"
ROOMS = tuple(StaticRoom(f"lab-{i}") for i in range(1, 9))

RUN_PATHS = (
    "/test_framework/v1/scenarios-external/run_scenarios_pipecat",
    "/test_framework/v1/scenarios/run_scenarios_pipecat",
    "/test_framework/v2/scenarios/run_scenarios_pipecat",
)
BULK_PATHS = (
    "/test_framework/v2/runs/bulk/",
    "/test_framework/v1/runs/bulk/",
    "/test_framework/v1/runs-external/bulk/",
)
RESULT_PATHS = (
    "/test_framework/v2/results/{id}/",
    "/test_framework/v1/results/{id}/",
    "/test_framework/v1/results-external/{id}/",
)


def config(**overrides: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "daily_rooms": ROOMS,
        "queue_seconds": 1.0,
        "evaluation_seconds": 1.0,
        "defaults": Behaviour(duration=(10.0, 10.0), outcome=ScriptedOutcome.PASSED),
        "reply_order": "in_order",  # these tests pin the order of answers
    }
    values.update(overrides)
    return EmulatorConfig(**values)


def entry(scenario: Any = 1, room: str = "lab-1", **extra: Any) -> dict[str, Any]:
    return {"scenario": scenario, "pipecat_room_url": f"{DOMAIN}/{room}", **extra}


def post_run(client: httpx.Client, body: Any, path: str = RUN) -> httpx.Response:
    return client.post(path, json=body, headers=AUTH)


def start(client: httpx.Client, *entries: dict[str, Any], **body: Any) -> dict[str, Any]:
    response = post_run(client, {"scenarios": list(entries), **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def bulk(client: httpx.Client, ids: list[int]) -> list[dict[str, Any]]:
    response = client.get(BULK, params={"run_ids": ",".join(map(str, ids))}, headers=AUTH)
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    return runs


def result(client: httpx.Client, result_id: int) -> dict[str, Any]:
    response = client.get(f"/test_framework/v2/results/{result_id}/", headers=AUTH)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


# ---- the run endpoint ------------------------------------------------------------------


@pytest.mark.parametrize("slash", ["/", ""], ids=["slash", "no-slash"])
@pytest.mark.parametrize("path", RUN_PATHS)
def test_every_run_path_creates_a_result_with_one_pending_run(path: str, slash: str) -> None:
    with serve(config()) as (emu, client, _):
        response = post_run(client, {"scenarios": [entry(4)]}, path + slash)
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["status"] == "pending"
        assert data["run_as_text"] is False
        assert data["agent"] == 1
        assert isinstance(data["id"], int)
        assert data["created_at"].endswith("Z")
        [run] = data["runs"]
        assert run["status"] == "pending"
        assert run["scenario"] == 4
        assert run["number"] is None
        assert run["inbound_number"] is None
        assert run["test_profile_data"] is None
        assert run["scenario_name"] == "Scenario 4"
        assert [r.run_id for r in emu.ledger.runs] == [run["id"]]
        assert emu.ledger.requests[-1].path == path + slash
        assert emu.ledger.requests[-1].endpoint == "cekura.run"


GOOD = entry(1)
URL = GOOD["pipecat_room_url"]

VALIDATION = [
    pytest.param({}, {"scenarios": ["This field is required."]}, id="missing-scenarios"),
    pytest.param(
        {"scenarios": None, "agent": 3}, {"scenarios": ["This field may not be null."]}, id="null"
    ),
    pytest.param({"scenarios": []}, {"scenarios": ["This list may not be empty."]}, id="empty"),
    pytest.param(
        {"scenarios": {"scenario": 1, "pipecat_room_url": URL}},
        {"scenarios": ['Expected a list of items but got type "dict".']},
        id="dict",
    ),
    pytest.param(
        {"scenarios": "1,2"},
        {"scenarios": ['Expected a list of items but got type "str".']},
        id="str",
    ),
    pytest.param(
        {
            "scenarios": [
                GOOD,
                {"pipecat_room_url": URL},
                {"scenario": "abc", "pipecat_room_url": URL},
                {"scenario": 1},
                {"scenario": 1, "pipecat_room_url": ""},
                7,
                {"scenario": True, "pipecat_room_url": URL, "pipecat_token": 5},
                GOOD,
            ]
        },
        {
            "scenarios": [
                "Item 1: scenario: This field is required.",
                "Item 2: scenario: A valid integer is required.",
                "Item 3: pipecat_room_url: This field is required.",
                "Item 4: pipecat_room_url: This field may not be blank.",
                "Item 5: non_field_errors: Invalid data. Expected a dictionary, but got int.",
                "Item 6: scenario: A valid integer is required.",
                "Item 6: pipecat_token: Not a valid string.",
            ]
        },
        id="entries-by-index",
    ),
    pytest.param(
        {"scenarios": [GOOD], "agent": "twelve"},
        {"agent": ["A valid integer is required."]},
        id="agent-not-int",
    ),
    pytest.param(
        {"scenarios": [GOOD], "agent": True},
        {"agent": ["A valid integer is required."]},
        id="agent-bool",
    ),
    pytest.param(
        {"scenarios": [], "agent": "x"},
        {"agent": ["A valid integer is required."], "scenarios": ["This list may not be empty."]},
        id="two-fields",
    ),
    pytest.param(
        {"scenarios": [GOOD], "mock_tool_names": "lookup"},
        {"mock_tool_names": ["Expected a list of strings."]},
        id="mock-tools",
    ),
    pytest.param(
        [GOOD],
        {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        id="body-list",
    ),
    pytest.param(
        "scenarios",
        {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        id="body-str",
    ),
]


@pytest.mark.parametrize(("body", "errors"), VALIDATION)
def test_invalid_bodies_get_drf_field_errors_and_create_nothing(
    body: Any, errors: dict[str, Any]
) -> None:
    with serve(config()) as (emu, client, _):
        response = post_run(client, body)
        assert response.status_code == 400
        assert response.json() == errors
        assert emu.ledger.runs == []
        assert emu.ledger.requests[-1].status == 400


@pytest.mark.parametrize("raw", [b"{", b'{"scenarios": [', b"not json", b"\xff\xfe"])
def test_invalid_json_is_a_drf_parse_error(raw: bytes) -> None:
    with serve(config()) as (emu, client, _):
        response = client.post(
            RUN, content=raw, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert response.status_code == 400
        body = response.json()
        assert list(body) == ["non_field_errors"]
        [message] = body["non_field_errors"]
        assert message.startswith("JSON parse error - ")
        assert emu.ledger.runs == []


def test_scenario_ids_as_digit_strings_are_accepted_as_drf_integer_fields_are() -> None:
    with serve(config()) as (emu, client, _):
        data = start(client, entry(" 12 "), agent="7")
        assert data["agent"] == 7
        assert data["runs"][0]["scenario"] == 12
        assert emu.ledger.runs[0].scenario == 12


def test_an_empty_body_reports_the_missing_scenarios_field() -> None:
    # DRF parses an empty JSON body as {} and reports the required field; the emulator
    # must not leak its internal "no body" sentinel ("... but got object.").
    with serve(config()) as (emu, client, _):
        response = client.post(RUN, headers={**AUTH, "Content-Type": "application/json"})
        assert response.status_code == 400
        assert response.json() == {"scenarios": ["This field is required."]}
        assert emu.ledger.runs == []


def test_a_null_room_url_is_reported_as_drf_reports_null() -> None:
    with serve(config()) as (_, client, _clock):
        response = post_run(client, {"scenarios": [{"scenario": 1, "pipecat_room_url": None}]})
        assert response.status_code == 400
        assert response.json() == {
            "scenarios": ["Item 0: pipecat_room_url: This field may not be null."]
        }


@pytest.mark.parametrize("value", ["--5", "-", "²", "1.5"])
def test_malformed_integer_strings_are_a_400_not_a_crash(value: str) -> None:
    with serve(config()) as (emu, client, _):
        response = post_run(client, {"scenarios": [entry(value)]})
        assert response.status_code == 400, response.text
        assert response.json() == {"scenarios": ["Item 0: scenario: A valid integer is required."]}
        bad_agent = post_run(client, {"scenarios": [entry(1)], "agent": value})
        assert bad_agent.status_code == 400, bad_agent.text
        assert bad_agent.json() == {"agent": ["A valid integer is required."]}
        assert emu.ledger.runs == []


def test_unknown_scenarios_are_refused_with_the_configured_message() -> None:
    cfg = config(unknown_scenarios=frozenset({7, 9}), unknown_scenario_message="No such: {ids}!")
    with serve(cfg) as (emu, client, _):
        response = post_run(client, {"scenarios": [entry(9), entry(1, "lab-2"), entry(7)]})
        assert response.status_code == 400
        assert response.json() == {"scenarios": ["No such: [7, 9]!"]}
        assert emu.ledger.runs == []
        assert start(client, entry(1))["runs"][0]["scenario"] == 1


def test_unknown_scenarios_default_message() -> None:
    with serve(config(unknown_scenarios=frozenset({404}))) as (_, client, _clock):
        response = post_run(client, {"scenarios": [entry(404)]})
        assert response.status_code == 400
        assert response.json() == {"scenarios": ["Invalid scenario IDs: [404]"]}


def test_one_run_per_entry_duplicates_included() -> None:
    with serve(config()) as (emu, client, _):
        entries = [entry(5, "lab-1"), entry(5, "lab-2"), entry(6, "lab-3"), entry(5, "lab-4")]
        data = start(client, *entries)
        runs = data["runs"]
        assert [r["scenario"] for r in runs] == [5, 5, 6, 5]
        assert len({r["id"] for r in runs}) == 4
        records = emu.ledger.runs
        assert [(r.run_id, r.entry, r.scenario) for r in records] == [
            (run["id"], i, run["scenario"]) for i, run in enumerate(runs)
        ]
        assert {r.result_id for r in records} == {data["id"]}
        assert [r.pipecat_room_url for r in records] == [e["pipecat_room_url"] for e in entries]


SIX = (11, 12, 13, 14, 15, 16)


def post_six(cfg: EmulatorConfig) -> tuple[list[int], list[int], dict[int, int]]:
    """POST six scenarios in one batch: the answer's scenarios in its order, its run ids,
    and each run's entry index as the ledger recorded it."""
    with serve(cfg) as (emu, client, _):
        data = start(client, *(entry(s, f"lab-{i + 1}") for i, s in enumerate(SIX)))
        runs = data["runs"]
        assert {r.run_id for r in emu.ledger.runs} == {r["id"] for r in runs}
        by_entry = {r.run_id: r.entry for r in emu.ledger.runs}
        return [r["scenario"] for r in runs], [r["id"] for r in runs], by_entry


def test_the_answer_lists_the_runs_in_the_entries_order_by_default() -> None:
    assert config().reply_order is ReplyOrder.IN_ORDER
    scenarios, ids, by_entry = post_six(config())
    assert scenarios == list(SIX)
    assert [by_entry[i] for i in ids] == [0, 1, 2, 3, 4, 5]
    assert post_six(config(reply_order=ReplyOrder.IN_ORDER))[0] == list(SIX)


def test_reply_order_reversed_lists_the_runs_last_entry_first() -> None:
    scenarios, ids, by_entry = post_six(config(reply_order=ReplyOrder.REVERSED))
    assert scenarios == list(SIX)[::-1]
    assert [by_entry[i] for i in ids] == [5, 4, 3, 2, 1, 0]


def test_reply_order_shuffled_is_a_permutation_drawn_from_the_seed() -> None:
    scenarios, ids, by_entry = post_six(config(reply_order=ReplyOrder.SHUFFLED, seed=3))
    assert sorted(scenarios) == list(SIX)
    assert scenarios not in (list(SIX), list(SIX)[::-1])
    # Each run is still the run of its entry: only the list's order changes.
    assert [SIX[by_entry[i]] for i in ids] == scenarios
    again = post_six(config(reply_order=ReplyOrder.SHUFFLED, seed=3))
    assert again[0] == scenarios  # the same seed and requests, the same order
    others = {tuple(post_six(config(reply_order=ReplyOrder.SHUFFLED, seed=s))[0]) for s in range(6)}
    assert len(others) > 1  # another seed, another order


def test_reply_order_shuffled_differs_between_posts_and_keeps_each_result_whole() -> None:
    cfg = config(reply_order=ReplyOrder.SHUFFLED, seed=3)
    with serve(cfg) as (_, client, _clock):
        answers = [
            start(client, *(entry(s, f"lab-{i + 1}") for i, s in enumerate(SIX))),
            start(client, *(entry(s, f"lab-{i + 1}") for i, s in enumerate(SIX))),
        ]
        orders = [[r["scenario"] for r in a["runs"]] for a in answers]
        assert all(sorted(order) == list(SIX) for order in orders)
        assert orders[0] != orders[1]  # drawn per result, not once
        for data in answers:
            whole = result(client, data["id"])
            assert sorted(int(k) for k in whole["runs"]) == sorted(r["id"] for r in data["runs"])


@pytest.mark.parametrize("order", list(ReplyOrder))
def test_specrunners_client_gives_each_entry_its_own_run_in_every_order(
    order: ReplyOrder,
) -> None:
    async def submit(base_url: str) -> Submitted:
        async with AiohttpRequester.session(base_url) as session:
            cekura = CekuraClient(AiohttpRequester(session), api_key=KEY, base_url=base_url)
            return await cekura.submit([entry(s, f"lab-{i + 1}") for i, s in enumerate(SIX)], 3)

    with serve(config(reply_order=order, seed=3)) as (emu, _client, _clock):
        submitted = asyncio.run(submit(emu.base_url))
        ledger = {r.entry: r.run_id for r in emu.ledger.runs}
    assert submitted.run_ids == tuple(ledger[i] for i in range(len(SIX)))
    assert submitted.unmatched == {}
    assert submitted.extra == ()


def test_reply_order_leaves_a_single_run_alone() -> None:
    for order in ReplyOrder:
        with serve(config(reply_order=order)) as (_, client, _clock):
            [run] = start(client, entry(4))["runs"]
            assert run["scenario"] == 4


def test_the_agent_comes_from_the_body_else_the_first_scenario_else_the_default() -> None:
    cfg = config(agent=5, scenarios={2: Behaviour(agent=77), 3: Behaviour()})
    with serve(cfg) as (emu, client, _):
        from_body = start(client, entry(2, "lab-1"), agent=12)
        from_scenario = start(client, entry(2, "lab-2"), entry(3, "lab-3"))
        from_default = start(client, entry(3, "lab-4"), entry(2, "lab-5"))
        explicit_null = start(client, entry(9, "lab-6"), agent=None)
        assert [d["agent"] for d in (from_body, from_scenario, from_default, explicit_null)] == [
            12,
            77,
            5,
            5,
        ]
        [run] = bulk(client, [from_scenario["runs"][1]["id"]])
        assert run["agent"] == 77
        assert [r.agent for r in emu.ledger.runs] == [12, 77, 77, 5, 5, 5]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authentication credentials were not provided."),
        ({"X-CEKURA-API-KEY": ""}, "Authentication credentials were not provided."),
        ({"X-CEKURA-API-KEY": "wrong"}, "Invalid API key."),
        ({"Authorization": f"Bearer {KEY}"}, "Authentication credentials were not provided."),
    ],
)
def test_cekura_needs_the_configured_api_key(headers: dict[str, str], detail: str) -> None:
    with serve(config()) as (emu, client, _):
        answers = [
            client.post(RUN, json={"scenarios": [entry()]}, headers=headers),
            client.get(BULK, params={"run_ids": "1001"}, headers=headers),
            client.get("/test_framework/v2/results/501/", headers=headers),
            client.post("/test_framework/v2/results/501/end_calls/", headers=headers),
            client.post("/test_framework/v2/runs/1001/end_call/", headers=headers),
        ]
        for response in answers:
            assert response.status_code == 401, response.request.url
            assert response.json() == {"detail": detail}
        assert emu.ledger.runs == []


def test_another_configured_key_replaces_the_default() -> None:
    with serve(config(api_key="sk-other")) as (_, client, _clock):
        assert post_run(client, {"scenarios": [entry()]}).status_code == 401
        response = client.post(
            RUN, json={"scenarios": [entry()]}, headers={"X-CEKURA-API-KEY": "sk-other"}
        )
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", RUN, "POST"),
        ("PUT", RUN_PATHS[2], "POST"),
        ("POST", BULK, "GET"),
        ("DELETE", "/test_framework/v1/runs-external/bulk", "GET"),
        ("GET", "/test_framework/v2/results/501/end_calls/", "POST"),
        ("GET", "/test_framework/v1/runs/1001/end_call/", "POST"),
    ],
)
def test_a_wrong_method_is_405(method: str, path: str, allow: str) -> None:
    with serve(config()) as (emu, client, _):
        response = client.request(method, path, headers=AUTH)
        assert response.status_code == 405
        assert response.headers["Allow"] == allow
        assert response.json() == {"detail": f'Method "{method}" not allowed.'}
        assert emu.ledger.runs == []


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/test_framework/v3/scenarios/run_scenarios_pipecat/",
        "/test_framework/v1/scenarios/run_scenarios/",
        "/test_framework/v2/results/abc/",
        "/test_framework/v2/runs/bulk/extra/",
        "/test_framework/v2/scenarios/run_scenarios_pipecat//",
    ],
)
def test_unknown_paths_are_404(path: str) -> None:
    with serve(config()) as (_, client, _clock):
        for method in ("GET", "POST"):
            response = client.request(method, path, headers=AUTH, json={"scenarios": [entry()]})
            assert response.status_code == 404
            assert response.json() == {"detail": "Not found."}


# ---- bulk runs ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", BULK_PATHS)
@pytest.mark.parametrize("name", ["run_ids", "ids"])
def test_bulk_returns_the_requested_runs_in_order(path: str, name: str) -> None:
    with serve(config()) as (_, client, _clock):
        data = start(client, entry(1, "lab-1"), entry(2, "lab-2"), entry(3, "lab-3"))
        a, b, c = (r["id"] for r in data["runs"])
        response = client.get(path, params={name: f"{c},{a}, 999999,{b}"}, headers=AUTH)
        assert response.status_code == 200, response.text
        runs = response.json()
        assert isinstance(runs, list)
        assert [r["id"] for r in runs] == [c, a, b]
        assert [r["scenario"] for r in runs] == [3, 1, 2]
        assert all(r["status"] == "pending" for r in runs)
        assert all(r["result_id"] == data["id"] for r in runs)
        no_slash = client.get(path.rstrip("/"), params={name: str(a)}, headers=AUTH)
        assert [r["id"] for r in no_slash.json()] == [a]


def test_bulk_with_only_unknown_ids_is_an_empty_list() -> None:
    with serve(config()) as (_, client, _clock):
        start(client, entry())
        assert bulk(client, [1, 2, 3]) == []


@pytest.mark.parametrize("name", ["run_ids", "ids"])
@pytest.mark.parametrize("value", ["[1001]", "[1001, 1002]", " [1001,1002]"])
def test_a_json_array_value_is_400(name: str, value: str) -> None:
    with serve(config()) as (_, client, _clock):
        start(client, entry())
        response = client.get(BULK, params={name: value}, headers=AUTH)
        assert response.status_code == 400
        body = response.json()
        assert list(body) == [name]
        assert "comma-separated" in body[name][0]


@pytest.mark.parametrize("value", ["1001,x", "abc", "1.5", "1001;1002"])
def test_a_non_integer_run_id_is_400(value: str) -> None:
    with serve(config()) as (_, client, _clock):
        start(client, entry())
        response = client.get(BULK, params={"run_ids": value}, headers=AUTH)
        assert response.status_code == 400
        assert response.json() == {"run_ids": ["Each run ID must be an integer, as in 1,2,3."]}


@pytest.mark.parametrize("params", [{}, {"run_id": "1001"}, {"result_id": "501"}])
def test_a_missing_run_ids_parameter_is_400(params: dict[str, str]) -> None:
    with serve(config()) as (_, client, _clock):
        start(client, entry())
        response = client.get(BULK, params=params, headers=AUTH)
        assert response.status_code == 400
        assert response.json() == {"run_ids": ["This query parameter is required."]}


def test_run_ids_wins_over_ids() -> None:
    with serve(config()) as (_, client, _clock):
        a, b = (r["id"] for r in start(client, entry(1), entry(2, "lab-2"))["runs"])
        response = client.get(BULK, params={"run_ids": str(a), "ids": str(b)}, headers=AUTH)
        assert [r["id"] for r in response.json()] == [a]


# ---- results -----------------------------------------------------------------------------


def test_result_counts_rate_and_runs_keyed_by_id() -> None:
    cfg = config(
        scenarios={
            1: Behaviour(outcome=ScriptedOutcome.PASSED, duration=(10.0, 10.0)),
            2: Behaviour(outcome=ScriptedOutcome.FAILED, duration=(10.0, 10.0)),
            3: Behaviour(outcome=ScriptedOutcome.ERROR, duration=(10.0, 10.0)),
        }
    )
    with serve(cfg) as (_, client, clock):
        data = start(client, entry(1, "lab-1"), entry(2, "lab-2"), entry(3, "lab-3"))
        ids = [r["id"] for r in data["runs"]]
        pending = result(client, data["id"])
        assert pending["id"] == data["id"]
        assert pending["status"] == "pending"
        assert sorted(pending["runs"]) == sorted(str(i) for i in ids)
        assert all(pending["runs"][str(i)]["id"] == i for i in ids)
        assert pending["total_runs_count"] == 3
        assert pending["completed_runs_count"] == 0
        assert pending["success_runs_count"] == 0
        assert pending["failed_runs_count"] == 0
        assert pending["success_rate"] == 0

        clock.advance(1.0)
        running = result(client, data["id"])
        assert running["status"] == "running"
        assert {r["status"] for r in running["runs"].values()} == {"running"}

        clock.advance(20.0)
        done = result(client, data["id"])
        assert done["status"] == "failed"  # one run failed for infrastructure reasons
        statuses = {int(k): v["status"] for k, v in done["runs"].items()}
        assert statuses == {ids[0]: "completed", ids[1]: "completed", ids[2]: "failed"}
        assert done["runs"][str(ids[2])]["error_message"]
        assert done["total_runs_count"] == 3
        assert done["completed_runs_count"] == 3
        assert done["success_runs_count"] == 1
        assert done["failed_runs_count"] == 2
        assert done["success_rate"] == pytest.approx(100 / 3, abs=0.01)
        assert 0 <= done["success_rate"] <= 100
        assert done["successful_calls"] == [ids[0]]
        assert done["failed_infrastructure_runs"] == [ids[2]]
        assert done["failed_workflow_runs"] == [ids[1]]


@pytest.mark.parametrize(
    ("outcomes", "status", "rate"),
    [
        ((ScriptedOutcome.PASSED, ScriptedOutcome.PASSED), "completed", 100),
        ((ScriptedOutcome.PASSED, ScriptedOutcome.FAILED), "completed", 50),
        ((ScriptedOutcome.FAILED, ScriptedOutcome.FAILED), "completed", 0),
        ((ScriptedOutcome.PASSED, ScriptedOutcome.TIMEOUT), "failed", 50),
    ],
)
def test_result_status_and_success_rate(
    outcomes: tuple[ScriptedOutcome, ...], status: str, rate: float
) -> None:
    cfg = config(
        scenarios={i + 1: Behaviour(outcome=o, duration=(3.0, 3.0)) for i, o in enumerate(outcomes)}
    )
    with serve(cfg) as (_, client, clock):
        data = start(client, *(entry(i + 1, f"lab-{i + 1}") for i in range(len(outcomes))))
        clock.advance(10.0)
        for path in RESULT_PATHS:
            done = client.get(path.format(id=data["id"]), headers=AUTH).json()
            assert done["status"] == status
            assert done["success_rate"] == rate
            assert done["completed_runs_count"] == len(outcomes)


@pytest.mark.parametrize("path", [*RESULT_PATHS, "/test_framework/v2/results/{id}"])
def test_unknown_result_is_404(path: str) -> None:
    with serve(config()) as (_, client, _clock):
        data = start(client, entry())
        assert client.get(path.format(id=data["id"]), headers=AUTH).status_code == 200
        response = client.get(path.format(id=data["id"] + 1), headers=AUTH)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


# ---- end calls ---------------------------------------------------------------------------


END_CALLS = (
    "/test_framework/v2/results/{id}/end_calls/",
    "/test_framework/v1/results/{id}/end_calls/",
    "/test_framework/v1/results-external/{id}/end_calls",
)
END_CALL = (
    "/test_framework/v2/runs/{id}/end_call/",
    "/test_framework/v1/runs/{id}/end_call/",
    "/test_framework/v1/runs-external/{id}/end_call",
)


@pytest.mark.parametrize("path", END_CALLS)
def test_end_calls_cancels_live_runs_and_leaves_final_ones(path: str) -> None:
    cfg = config(
        scenarios={
            1: Behaviour(outcome=ScriptedOutcome.PASSED, duration=(2.0, 2.0)),
            2: Behaviour(outcome=ScriptedOutcome.PASSED, duration=(100.0, 100.0)),
        },
        max_concurrent_runs=2,
    )
    with serve(cfg) as (_, client, clock):
        data = start(
            client, entry(1, "lab-1"), entry(2, "lab-2"), entry(2, "lab-3"), entry(2, "lab-4")
        )
        done, running, queued, later = (r["id"] for r in data["runs"])
        clock.advance(5.0)  # run 1 completed, run 2 running, 3 running, 4 in_queue
        before = {r["id"]: r["status"] for r in bulk(client, [done, running, queued, later])}
        assert before == {
            done: "completed",
            running: "running",
            queued: "running",
            later: "in_queue",
        }
        response = client.post(path.format(id=data["id"]), headers=AUTH)
        assert response.status_code == 200
        assert response.content == b""
        for step in (0.0, 50.0, 500.0):
            clock.advance(step)
            after = {r["id"]: r for r in bulk(client, [done, running, queued, later])}
            assert after[done]["status"] == "completed"
            assert after[done]["success"] is True
            for run_id in (running, queued, later):
                assert after[run_id]["status"] == "cancelled"
                assert after[run_id]["success"] is False
        assert result(client, data["id"])["status"] in ("completed", "failed")


@pytest.mark.parametrize("path", END_CALL)
def test_end_call_cancels_one_run(path: str) -> None:
    with serve(config()) as (_, client, clock):
        data = start(client, entry(1, "lab-1"), entry(1, "lab-2"))
        one, other = (r["id"] for r in data["runs"])
        clock.advance(2.0)
        response = client.post(path.format(id=one), headers=AUTH)
        assert response.status_code == 200
        assert response.content == b""
        assert [r["status"] for r in bulk(client, [one, other])] == ["cancelled", "running"]
        clock.advance(100.0)
        assert [r["status"] for r in bulk(client, [one, other])] == ["cancelled", "completed"]
        again = client.post(path.format(id=other), headers=AUTH)
        assert again.status_code == 200
        assert [r["status"] for r in bulk(client, [one, other])] == ["cancelled", "completed"]


def test_end_call_on_a_pending_run_cancels_it_before_it_starts() -> None:
    with serve(config()) as (_, client, clock):
        data = start(client, entry())
        run_id = data["runs"][0]["id"]
        assert client.post(f"/test_framework/v2/runs/{run_id}/end_call/", headers=AUTH).is_success
        clock.advance(100.0)
        [run] = bulk(client, [run_id])
        assert run["status"] == "cancelled"
        assert run["executed_at"] is None


@pytest.mark.parametrize("path", [*END_CALLS, *END_CALL])
def test_end_calls_for_unknown_ids_are_404(path: str) -> None:
    with serve(config()) as (_, client, _clock):
        start(client, entry())
        response = client.post(path.format(id=77777), headers=AUTH)
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
