"""Timing profiles (fast, realistic), ranges for queue and evaluation times, and what the
emulator tells its caller when its clock runs at another pace than real time."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from emukit import BULK, DOMAIN, serve

from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    Profile,
    StaticRoom,
    config_from_mapping,
    load_config,
)
from specrunner.emulator.profiles import TIMINGS
from specrunner.errors import SuiteError

AUTH = {"X-CEKURA-API-KEY": "specrunner-emulator-key"}
RUN = "/test_framework/v2/scenarios/run_scenarios_pipecat/"
ROOMS = tuple(StaticRoom(f"lab-{i}") for i in range(40))


def start_runs(client: httpx.Client, count: int) -> list[int]:
    entries = [{"scenario": 1, "pipecat_room_url": f"{DOMAIN}/lab-{i}"} for i in range(count)]
    response = client.post(RUN, json={"scenarios": entries}, headers=AUTH)
    assert response.status_code == 200, response.text
    return [run["id"] for run in response.json()["runs"]]


def statuses(client: httpx.Client, ids: list[int]) -> list[str]:
    response = client.get(BULK, params={"run_ids": ",".join(map(str, ids))}, headers=AUTH)
    assert response.status_code == 200, response.text
    return [run["status"] for run in response.json()]


def test_the_fast_profile_is_the_default_and_keeps_today_s_timings() -> None:
    config = EmulatorConfig()
    assert config.profile is Profile.FAST
    assert (config.queue_seconds, config.evaluation_seconds) == (0.1, 0.2)
    assert config.defaults.duration == (2.0, 5.0)
    assert config_from_mapping({"profile": "fast"}) == config


def test_the_realistic_profile_draws_each_run_s_times_from_its_ranges() -> None:
    config = EmulatorConfig(profile=Profile.REALISTIC, daily_rooms=ROOMS)
    realistic = TIMINGS[Profile.REALISTIC]
    assert (realistic.queue, realistic.call, realistic.evaluation) == (
        (10.0, 180.0),
        (60.0, 300.0),
        (10.0, 60.0),
    )
    with serve(config) as (emu, client, clock):
        ids = start_runs(client, 40)
        runs = [emu.app.simulation.runs[i] for i in ids]
        assert all(10.0 <= r.queue <= 180.0 for r in runs)
        assert all(60.0 <= r.duration <= 300.0 for r in runs)
        assert all(10.0 <= r.evaluation <= 60.0 for r in runs)
        # drawn, not fixed: the 40 runs do not share one time
        assert len({round(r.queue, 3) for r in runs}) > 30
        clock.advance(9.9)
        assert set(statuses(client, ids)) == {"pending"}  # nothing starts within 10 s
        clock.advance(180.0)
        assert "pending" not in statuses(client, ids)
        clock.advance(400.0)  # past the longest queue, call and evaluation
        assert set(statuses(client, ids)) <= {"completed", "failed", "timeout"}


def test_a_profile_s_timings_are_defaults_that_a_configuration_overrides() -> None:
    config = config_from_mapping(
        {
            "profile": "realistic",
            "cekura": {
                "queue_seconds": 2,
                "defaults": {"duration": [30, 40]},
                "scenarios": {"7": {"name": "own"}, "8": {"duration": 5}},
            },
        }
    )
    assert config.profile is Profile.REALISTIC
    assert config.queue_seconds == 2.0
    assert config.evaluation_seconds == (10.0, 60.0)  # the profile's
    assert config.defaults.duration == (30.0, 40.0)
    assert config.behaviour(7).duration == (60.0, 300.0)  # a listed scenario: the profile's
    assert config.behaviour(8).duration == (5.0, 5.0)


def test_queue_and_evaluation_times_may_be_ranges(tmp_path: Path) -> None:
    path = tmp_path / "emulator.yaml"
    path.write_text("cekura:\n  queue_seconds: [3, 1]\n  evaluation_seconds: [2, 4]\n")
    config = load_config(str(path))
    assert (config.queue_range(), config.evaluation_range()) == ((1.0, 3.0), (2.0, 4.0))
    with serve(
        EmulatorConfig(
            queue_seconds=(1.0, 3.0),
            evaluation_seconds=(2.0, 4.0),
            defaults=Behaviour(duration=(1.0, 1.0)),
            daily_rooms=ROOMS,
        )
    ) as (emu, client, _):
        ids = start_runs(client, 20)
        runs = [emu.app.simulation.runs[i] for i in ids]
        assert all(1.0 <= r.queue <= 3.0 and 2.0 <= r.evaluation <= 4.0 for r in runs)


def test_the_same_seed_draws_the_same_times() -> None:
    def draws() -> list[tuple[float, float, float]]:
        with serve(EmulatorConfig(profile=Profile.REALISTIC, seed=5, daily_rooms=ROOMS)) as (
            emu,
            client,
            _,
        ):
            runs = [emu.app.simulation.runs[i] for i in start_runs(client, 5)]
            return [(r.queue, r.duration, r.evaluation) for r in runs]

    assert draws() == draws()


def test_a_misspelt_profile_is_a_located_error_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("profile: realistc\n")
    with pytest.raises(SuiteError) as caught:
        load_config(str(path))
    [problem] = [str(d) for d in caught.value.diagnostics]
    assert problem.endswith("did you mean 'realistic'?"), problem
    assert ":1:10: profile: expected 'fast' or 'realistic'" in problem
    with pytest.raises(ValueError, match="realistc"):
        EmulatorConfig(profile="realistc")  # type: ignore[arg-type]


# ---- time_scale ---------------------------------------------------------------------------


def test_no_notice_when_emulator_time_is_real_time() -> None:
    assert EmulatorConfig().notices() == ()
    with Emulator(EmulatorConfig()) as emu:
        health = httpx.get(f"{emu.base_url}/_emulator/health").json()
        ledger = httpx.get(f"{emu.base_url}/_emulator/ledger").json()
        assert emu.notices == ()
    assert (health["time_scale"], health["notices"], ledger["notices"]) == (1.0, [], [])


@pytest.mark.parametrize(
    ("scale", "words"),
    [(10.0, ["time_scale 10", "10x faster", "30 s"]), (0.5, ["time_scale 0.5", "2x slower"])],
)
def test_a_time_scale_other_than_1_is_announced(scale: float, words: list[str]) -> None:
    config = EmulatorConfig(time_scale=scale, profile=Profile.REALISTIC)
    [notice] = config.notices()
    for word in words:
        assert word in notice, notice
    assert "timeouts are real seconds" in notice
    with Emulator(config) as emu:
        health = httpx.get(f"{emu.base_url}/_emulator/health").json()
        ledger = httpx.get(f"{emu.base_url}/_emulator/ledger").json()
        assert emu.notices == (notice,)
    assert health["notices"] == ledger["notices"] == [notice]
    assert (health["time_scale"], health["profile"]) == (scale, "realistic")


def test_a_compressed_realistic_run_takes_its_time_divided_by_the_scale() -> None:
    # 1000x: a realistic run (at most 180 + 300 + 60 = 540 s) ends within 0.54 real seconds.
    config = EmulatorConfig(profile=Profile.REALISTIC, time_scale=1000.0, daily_rooms=ROOMS)
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, timeout=5.0) as client:
        began = time.monotonic()
        ids = start_runs(client, 3)
        while set(statuses(client, ids)) != {"completed"} and time.monotonic() - began < 5.0:
            time.sleep(0.02)
        took = time.monotonic() - began
        assert set(statuses(client, ids)) == {"completed"}
        runs = [emu.app.simulation.runs[i] for i in ids]
    longest = max(r.queue + r.duration + r.evaluation for r in runs)
    assert longest / 1000.0 <= took < longest / 1000.0 + 1.0


def test_the_health_endpoint_reports_what_is_kept(tmp_path: Path) -> None:
    text = textwrap.dedent(
        """\
        profile: realistic
        time_scale: 60
        memory: {ledger_details: 50, keep_finished: 20}
        """
    )
    path = tmp_path / "emulator.yaml"
    path.write_text(text)
    config = load_config(str(path))
    assert (config.ledger_details, config.keep_finished) == (50, 20)
    with Emulator(config) as emu:
        health: dict[str, Any] = httpx.get(f"{emu.base_url}/_emulator/health").json()
    assert health["status"] == "ok"
    assert health["totals"] == {"requests": 0, "runs": 0, "rooms": 0, "sessions": 0}
    assert {"live_runs", "runs_kept", "runs_forgotten", "live_sessions", "rooms_kept"} <= set(
        health
    )
