"""The emulator's YAML configuration: what a good file gives, how bad files are reported,
and the defaults of config_from_mapping."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
    config_from_mapping,
    load_config,
)
from specrunner.emulator.config import ReplyOrder
from specrunner.errors import SuiteError

GOOD = """\
seed: 42
time_scale: 10
cekura:
  api_key: sk-test
  agent: 9
  queue_seconds: 0.5
  evaluation_seconds: 1.5
  max_concurrent_runs: 3
  defaults:
    pass_probability: 0.25
    duration: [8, 4]
  scenarios:
    101:
      name: Refund
      outcome: failed
      duration: 30
      agent: 77
    "102":
      pass_probability: 1
  unknown_scenarios: [404, 405]
  unknown_scenario_message: "Nope: {ids}"
  reply_order: reversed
pipecat:
  api_keys: [pk_a, pk_b]
  private_keys: [sk_a]
  agents:
    bot: {capacity: 2}
    helper: {}
  capacity: 5
  max_session_seconds: 600
  end_session_with_call: false
daily:
  api_keys: [dk]
  domain: acme-test
  rate_limit: false
  rooms:
    - name: lab-1
    - name: vault
      privacy: private
faults:
  - endpoint: cekura.run
    applied_then_status: 502
    nth: [1, 3]
  - endpoint: "*"
    status: 429
    retry_after: 2
    rate: 0.1
  - endpoint: daily.delete_room
    latency: 0.25
  - endpoint: pipecat.start
    drop: true
"""


def write(tmp_path: Path, text: str, name: str = "emulator.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def errors_of(tmp_path: Path, text: str) -> list[str]:
    path = write(tmp_path, text, "bad.yaml")
    with pytest.raises(SuiteError) as caught:
        load_config(path)
    return [str(d).replace(str(tmp_path) + "/", "") for d in caught.value.diagnostics]


def test_a_good_file_gives_the_expected_config(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config == EmulatorConfig(
        seed=42,
        time_scale=10.0,
        api_key="sk-test",
        agent=9,
        queue_seconds=0.5,
        evaluation_seconds=1.5,
        max_concurrent_runs=3,
        defaults=Behaviour(pass_probability=0.25, duration=(4.0, 8.0)),
        scenarios={
            101: Behaviour(
                name="Refund", outcome=ScriptedOutcome.FAILED, duration=(30.0, 30.0), agent=77
            ),
            102: Behaviour(pass_probability=1.0),
        },
        unknown_scenarios=frozenset({404, 405}),
        unknown_scenario_message="Nope: {ids}",
        reply_order=ReplyOrder.REVERSED,
        pipecat_keys=frozenset({"pk_a", "pk_b"}),
        pipecat_private_keys=frozenset({"sk_a"}),
        pipecat_agents={"bot": 2, "helper": 5},
        pipecat_capacity=5,
        max_session_seconds=600.0,
        end_session_with_call=False,
        daily_keys=frozenset({"dk"}),
        daily_domain="acme-test",
        daily_rate_limit=False,
        daily_rooms=(StaticRoom("lab-1"), StaticRoom("vault", "private")),
        faults=(
            Fault(endpoint="cekura.run", applied_then_status=502, nth=frozenset({1, 3})),
            Fault(endpoint="*", status=429, retry_after=2, rate=0.1),
            Fault(endpoint="daily.delete_room", latency=0.25),
            Fault(endpoint="pipecat.start", drop=True),
        ),
    )
    assert config.behaviour(101).outcome is ScriptedOutcome.FAILED
    assert config.behaviour(102).pass_probability == 1.0
    assert config.behaviour(999) == config.defaults
    assert all(isinstance(k, int) for k in config.scenarios)


def test_an_empty_mapping_gives_the_defaults() -> None:
    config = config_from_mapping({})
    assert config == EmulatorConfig()
    assert config.seed == 0
    assert config.api_key == "specrunner-emulator-key"
    assert config.agent == 1
    assert (config.queue_seconds, config.evaluation_seconds) == (0.1, 0.2)
    assert config.max_concurrent_runs is None
    assert config.defaults == Behaviour(pass_probability=0.9, duration=(2.0, 5.0))
    assert config.pipecat_agents is None
    assert config.pipecat_capacity == 50
    assert config.max_session_seconds == 7200.0
    assert config.end_session_with_call is True
    assert config.daily_domain == "specrunner-emulator"
    assert config.daily_rate_limit is True
    assert config.faults == ()
    assert config.unknown_scenario_message == "Invalid scenario IDs: {ids}"
    assert config.reply_order is ReplyOrder.SHUFFLED


def test_empty_sections_give_the_defaults_too() -> None:
    sections = {"cekura": None, "pipecat": {}, "daily": None, "faults": None}
    assert config_from_mapping(sections) == EmulatorConfig()


def test_a_file_with_only_comments_and_an_empty_mapping_is_valid(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "{}\n")) == EmulatorConfig()
    assert load_config(write(tmp_path, "# nothing\ncekura: {}\n")) == EmulatorConfig()


@pytest.mark.parametrize("order", list(ReplyOrder))
def test_every_reply_order_is_read_from_the_file(tmp_path: Path, order: ReplyOrder) -> None:
    config = load_config(write(tmp_path, f"cekura:\n  reply_order: {order.value}\n"))
    assert config == EmulatorConfig(reply_order=order)
    assert config.reply_order is order


def test_the_reply_order_defaults_to_shuffled(tmp_path: Path) -> None:
    # Cekura promises no order, so neither does the emulator unless asked
    assert EmulatorConfig().reply_order is ReplyOrder.SHUFFLED
    assert config_from_mapping({"cekura": {"agent": 3}}).reply_order is ReplyOrder.SHUFFLED
    assert load_config(write(tmp_path, "seed: 3\n")).reply_order is ReplyOrder.SHUFFLED
    assert [o.value for o in ReplyOrder] == ["in_order", "reversed", "shuffled"]


def test_the_reply_order_may_be_given_as_its_string_in_python() -> None:
    config = EmulatorConfig(reply_order="shuffled")  # type: ignore[arg-type]
    assert config.reply_order is ReplyOrder.SHUFFLED
    assert config == EmulatorConfig(reply_order=ReplyOrder.SHUFFLED)
    with pytest.raises(ValueError, match="shufled"):
        EmulatorConfig(reply_order="shufled")  # type: ignore[arg-type]


def test_agents_inherit_the_pipecat_capacity() -> None:
    config = config_from_mapping({"pipecat": {"capacity": 3, "agents": {"a": None, "b": {}}}})
    assert config.pipecat_agents == {"a": 3, "b": 3}


def test_a_loaded_file_drives_the_emulator(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """\
            cekura:
              api_key: from-the-file
              unknown_scenarios: [13]
            daily:
              domain: my-team
              rooms: [{name: lab}]
            """,
        )
    )
    with (
        Emulator(config, clock=ManualClock()) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        headers = {"X-CEKURA-API-KEY": "from-the-file"}
        room = client.get("/v1/rooms/lab", headers={"Authorization": "Bearer x"}).json()
        assert room["url"] == "https://my-team.daily.co/lab"
        body = {"scenarios": [{"scenario": 13, "pipecat_room_url": room["url"]}]}
        response = client.post(
            "/test_framework/v1/scenarios/run_scenarios_pipecat/", json=body, headers=headers
        )
        assert response.status_code == 400
        assert response.json() == {"scenarios": ["Invalid scenario IDs: [13]"]}
        assert emu.environment()["CEKURA_API_KEY"] == "from-the-file"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "cekura:\n  api_kye: x\n",
            ["bad.yaml:2:3: unknown key 'api_kye' in cekura; did you mean 'api_key'?"],
            id="unknown-key",
        ),
        pytest.param(
            "sede: 1\n",
            [
                "bad.yaml:1:1: unknown key 'sede' in the emulator configuration; "
                "did you mean 'seed'?"
            ],
            id="unknown-top-key",
        ),
        pytest.param(
            "faults:\n  - endpoint: cekura.runs\n    status: 500\n",
            ["bad.yaml:2:15: faults[0].endpoint: expected '*', "],
            id="bad-endpoint",
        ),
        pytest.param(
            "faults:\n  - endpoint: cekura.run\n    status: 500\n    drop: true\n",
            ["bad.yaml:2:5: faults[0]: set only one of 'status' or 'drop'"],
            id="two-actions",
        ),
        pytest.param(
            "faults:\n  - endpoint: cekura.run\n    nth: [1]\n",
            [
                "bad.yaml:2:5: faults[0]: needs one of 'status', 'latency', 'drop' "
                "or 'applied_then_status'"
            ],
            id="no-action",
        ),
        pytest.param(
            "faults:\n  - endpoint: cekura.run\n    status: 404\n",
            ["bad.yaml:3:13: faults[0].status"],
            id="bad-status",
        ),
        pytest.param(
            "cekura:\n  scenarios:\n    7:\n      outcome: passd\n",
            ["bad.yaml:4:16: cekura.scenarios.7.outcome: expected 'passed', "],
            id="bad-outcome",
        ),
        pytest.param(
            "daily:\n  rooms:\n    - name: has space\n",
            ["bad.yaml:3:13: daily.rooms[0].name"],
            id="bad-room-name",
        ),
        pytest.param(
            "cekura:\n  scenarios:\n    0: {}\n",
            ["bad.yaml:3:5: cekura.scenarios: the name '0' is not allowed"],
            id="scenario-zero",
        ),
        pytest.param(
            "cekura:\n  reply_order: shufled\n",
            [
                "bad.yaml:2:16: cekura.reply_order: expected 'in_order', 'reversed' or "
                "'shuffled', got the string 'shufled'; did you mean 'shuffled'?"
            ],
            id="bad-reply-order",
        ),
        pytest.param(
            "cekura:\n  reply_order: 2\n",
            ["bad.yaml:2:16: cekura.reply_order: expected 'in_order', 'reversed' or 'shuffled'"],
            id="reply-order-not-a-string",
        ),
        pytest.param(
            "cekura:\n  reply_ordr: reversed\n",
            ["bad.yaml:2:3: unknown key 'reply_ordr' in cekura; did you mean 'reply_order'?"],
            id="reply-order-typo",
        ),
        pytest.param(
            "pipecat:\n  capacity: 0\n",
            ["bad.yaml:2:13: pipecat.capacity: must be at least 1, got 0"],
            id="capacity",
        ),
        pytest.param(
            "seed: 1\nseed: 2\n",
            ["bad.yaml:2:1: duplicate key 'seed'"],
            id="duplicate-key",
        ),
        pytest.param(
            "cekura: [\n",
            ["bad.yaml:"],
            id="yaml-syntax",
        ),
    ],
)
def test_bad_files_raise_located_errors(tmp_path: Path, text: str, expected: list[str]) -> None:
    found = errors_of(tmp_path, text)
    assert len(found) == len(expected), found
    for line, prefix in zip(found, expected, strict=True):
        assert line.startswith(prefix), found


def test_a_fault_endpoint_typo_gets_a_did_you_mean(tmp_path: Path) -> None:
    [line] = errors_of(tmp_path, "faults:\n  - endpoint: pipecat.strat\n    status: 503\n")
    assert line.endswith("did you mean 'pipecat.start'?"), line


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    found = errors_of(
        tmp_path,
        """\
        seed: one
        cekura:
          queue_secnds: 1
        faults:
          - endpoint: "*"
            status: 500
            latency: 1
        daily:
          domain: Not_Lower
        """,
    )
    assert [line.split(": ", 1)[0] for line in found] == [
        "bad.yaml:1:7",
        "bad.yaml:3:3",
        "bad.yaml:5:5",
        "bad.yaml:9:11",
    ], found


def test_a_missing_file_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteError) as caught:
        load_config(str(tmp_path / "absent.yaml"))
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.message == "no such file"
    assert (diagnostic.line, diagnostic.col) == (1, 1)
