"""`specrunner run` against the emulator over loopback: exactly-once under faults, limits,
rooms, secrets, wrong keys, dry runs and resume."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

import specrunner
from specrunner.app.running import RunResult
from specrunner.cli import main
from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    Fault,
    ScriptedOutcome,
    StaticRoom,
)
from specrunner.errors import RemoteError, UsageError

CANARY = "sk-canary-4e1f9b7d"


def suite(
    runs: int, room: dict[str, Any], *, name: str = "e2e", scenarios: int = 5, timeout: str = "1m"
) -> dict[str, Any]:
    per = runs // scenarios
    assert per * scenarios == runs
    return {
        "version": 1,
        "name": name,
        "vars": {"tok": "{{ env.get('PAYLOAD_SECRET', 'none') }}"},
        "rooms": {"bot": room},
        "defaults": {
            "repeat": per,
            "timeout": timeout,
            "publish_data_message": {"run_key": "{{ run.key }}", "secret": "{{ vars.tok }}"},
        },
        "scenarios": [{"id": 30 + i, "name": f"scenario-{i}"} for i in range(scenarios)],
    }


PIPECAT = {
    "source": "pipecat_cloud",
    "agent_name": "bot",
    "api_key": "{{ env.PIPECAT_CLOUD_API_KEY }}",
}
FAST = Behaviour(duration=(0.05, 0.15), pass_probability=0.8)


def emulator_config(**changes: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "queue_seconds": 0.02,
        "evaluation_seconds": 0.02,
        "defaults": FAST,
        "daily_rate_limit": False,
        "reply_order": "shuffled",  # the real API promises no order
    }
    values.update(changes)
    return EmulatorConfig(**values)


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(path: Path | None, emulator: Emulator, tmp_path: Path, **options: Any) -> RunResult:
    """specrunner.run in `tmp_path` (where the run directory goes), pointed at `emulator`."""
    environ = {**emulator.environment(), **options.pop("environ", {})}
    options.setdefault("poll_interval", 0.05)
    with contextlib.chdir(tmp_path):
        return specrunner.run(str(path) if path else None, environ=environ, **options)


def ledger_keys(emulator: Emulator) -> Counter[str]:
    return Counter(r.publish_data_message["run_key"] for r in emulator.ledger.runs)


def test_every_planned_run_is_created_exactly_once(tmp_path: Path) -> None:
    path = write(tmp_path, suite(40, PIPECAT))
    with Emulator(emulator_config()) as emulator:
        result = run(path, emulator, tmp_path, concurrency=15, batch_size=7)
        keys = ledger_keys(emulator)
    assert len(result.records) == 40
    assert set(keys) == {r.key for r in result.records}
    assert max(keys.values()) == 1
    assert all(r.outcome.value in ("passed", "failed") for r in result.records)
    assert all(r.run_id is not None for r in result.records)
    results = json.loads((result.run_dir / "results.json").read_text())  # type: ignore[operator]
    assert [r["key"] for r in results["runs"]] == [r.key for r in result.records]


def test_faults_on_every_endpoint_never_create_a_run_twice(tmp_path: Path) -> None:
    faults = (
        # each kind at least once, whatever the timing; then at random
        Fault("cekura.run", status=429, retry_after=0.01, nth=frozenset({1})),
        Fault("cekura.run", applied_then_status=500, nth=frozenset({3})),
        Fault("cekura.run", drop=True, nth=frozenset({5})),
        Fault("cekura.bulk", drop=True, nth=frozenset({2})),
        Fault("*", status=500, rate=0.1),
        Fault("*", status=429, retry_after=0.01, rate=0.05),
        Fault("cekura.bulk", drop=True, rate=0.05),
        Fault("pipecat.start", drop=True, rate=0.05),
        Fault("cekura.run", applied_then_status=500, rate=0.1),
        Fault("cekura.run", drop=True, rate=0.05),
    )
    path = write(tmp_path, suite(60, PIPECAT))
    with Emulator(emulator_config(faults=faults, seed=3)) as emulator:
        result = run(path, emulator, tmp_path, concurrency=20, batch_size=5)
        keys = ledger_keys(emulator)
        faulted = Counter(r.fault for r in emulator.ledger.requests if r.fault)
    assert len(result.records) == 60 and len({r.key for r in result.records}) == 60
    assert max(keys.values()) == 1, "a run was created twice"
    for record in result.records:
        if record.run_id is not None:
            assert keys[record.key] == 1
        elif record.outcome.value == "unknown":
            assert keys[record.key] <= 1
        else:
            assert keys[record.key] == 0, record
    assert any(r.outcome.value == "unknown" for r in result.records)
    assert faulted["applied_then_500"] and faulted["drop"] and faulted["429"]


def test_with_faults_that_leave_posts_applied_the_ledger_has_exactly_n(tmp_path: Path) -> None:
    faults = (
        Fault("cekura.run", applied_then_status=500, nth=frozenset({2})),
        Fault("cekura.bulk", status=503, rate=0.1),
        Fault("cekura.bulk", status=429, retry_after=0.01, rate=0.05),
        Fault("cekura.bulk", drop=True, rate=0.05),
        Fault("cekura.run", status=429, retry_after=0.01, rate=0.2),
        Fault("cekura.run", applied_then_status=500, rate=0.15),
    )
    path = write(tmp_path, suite(30, PIPECAT))
    with Emulator(emulator_config(faults=faults, seed=5)) as emulator:
        result = run(path, emulator, tmp_path, concurrency=10, batch_size=3)
        keys = ledger_keys(emulator)
    assert sorted(keys) == sorted(r.key for r in result.records)
    assert set(keys.values()) == {1}
    unknown = [r for r in result.records if r.outcome.value == "unknown"]
    assert unknown and all("may have reached Cekura" in (r.error or "") for r in unknown)


def test_concurrency_and_static_rooms_are_respected(tmp_path: Path) -> None:
    rooms = [{"url": f"https://specrunner-emulator.daily.co/lab-{i}"} for i in range(3)]
    path = write(tmp_path, suite(15, {"source": "static", "rooms": rooms}))
    config = emulator_config(daily_rooms=tuple(StaticRoom(f"lab-{i}") for i in range(3)))
    with Emulator(config) as emulator:
        result = run(path, emulator, tmp_path, concurrency=5)
        runs = list(emulator.app.simulation.runs.values())
    assert all(r.run_id is not None for r in result.records)
    assert not [r for r in result.records if "busy" in (r.error or "").lower()]
    # at most 3 calls at once (the static pool), never two in one room
    events = sorted([(r.created_at, 1) for r in runs] + [(r.finished_at or 0, -1) for r in runs])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    assert peak <= 3


def test_daily_rooms_are_deleted_after_their_runs(tmp_path: Path) -> None:
    room = {"source": "daily", "api_key": "{{ env.DAILY_API_KEY }}"}
    path = write(tmp_path, suite(10, room))
    config = emulator_config(daily_rooms=(), daily_rate_limit=True)
    with Emulator(config) as emulator:
        result = run(path, emulator, tmp_path, concurrency=4)
        made = [r for r in emulator.ledger.rooms if r.created_by == "daily"]
    assert all(r.run_id is not None for r in result.records)
    assert len(made) == 10
    assert all(r.deleted_at is not None for r in made)


def test_capacity_of_a_pipecat_source_bounds_runs_in_flight(tmp_path: Path) -> None:
    room = {**PIPECAT, "max_sessions": 2}
    path = write(tmp_path, suite(10, room))
    with Emulator(emulator_config(pipecat_agents={"bot": 2})) as emulator:
        result = run(path, emulator, tmp_path, concurrency=10)
        statuses = Counter(
            r.status for r in emulator.ledger.requests if r.endpoint == "pipecat.start"
        )
    assert all(r.run_id is not None for r in result.records)
    assert statuses[429] == 0, "specrunner asked for more sessions than max_sessions"


def test_a_wrong_api_key_stops_with_exit_3_and_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    with Emulator(emulator_config()) as emulator:
        for name, value in emulator.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CEKURA_API_KEY", CANARY)
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(main, ["run", str(path), "--poll-interval", "0.05"])
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert len(errors) == 1 and "API key" in errors[0]
    assert CANARY not in result.output


def test_no_secret_reaches_output_results_or_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = {**PIPECAT, "api_key": "{{ env.ROOM_KEY }}", "body": {"k": "{{ env.ROOM_KEY }}"}}
    path = write(tmp_path, suite(5, room))
    with Emulator(emulator_config()) as emulator:
        for name, value in emulator.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ROOM_KEY", CANARY)
        monkeypatch.setenv("PAYLOAD_SECRET", CANARY + "-payload")
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(
            main, ["run", str(path), "--poll-interval", "0.05", "-o", "out/results.json"]
        )
        sent = [r.publish_data_message["secret"] for r in emulator.ledger.runs]
    assert result.exit_code in (0, 1), result.output
    assert sent and all(s == CANARY + "-payload" for s in sent)  # sent, never shown
    assert CANARY not in result.output
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".yaml"]
    assert any(p.name == "journal.jsonl" for p in written)
    for file in written:
        assert CANARY not in file.read_text(errors="replace"), file


def test_dry_run_sends_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    with Emulator(emulator_config()) as emulator:
        result = run(path, emulator, tmp_path, dry_run=True)
        assert emulator.ledger.requests == []
    assert {r.outcome.value for r in result.records} == {"not_run"}
    assert result.run_dir is None and result.exit_code == 0


def test_an_extension_that_names_no_format_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    with Emulator(emulator_config()) as emulator:
        with pytest.raises(UsageError, match=r"\.html, \.json, \.md, \.xml"):
            run(path, emulator, tmp_path, outputs=("report.pdf",))
        assert emulator.ledger.requests == []


def test_every_format_is_written_from_one_run(tmp_path: Path) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    outputs = ("r.json", "r.html", "r.xml", "r.md")
    with Emulator(emulator_config()) as emulator:
        run(path, emulator, tmp_path, outputs=outputs)
    for name in outputs:
        assert (tmp_path / name).stat().st_size > 100, name
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_resume_polls_what_exists_and_refuses_a_changed_suite(tmp_path: Path) -> None:
    path = write(tmp_path, suite(10, PIPECAT))
    with Emulator(emulator_config()) as emulator:
        first = run(path, emulator, tmp_path)
        resumed = run(None, emulator, tmp_path, resume=str(first.run_dir))
        assert [r.key for r in resumed.records] == [r.key for r in first.records]
        assert [r.outcome for r in resumed.records] == [r.outcome for r in first.records]
        assert len(emulator.ledger.runs) == 10  # nothing sent again
        write(tmp_path, suite(5, PIPECAT))
        with pytest.raises(UsageError, match="changed"):
            run(None, emulator, tmp_path, resume=str(first.run_dir))


def test_a_remote_refusal_is_a_remote_error_from_python(tmp_path: Path) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    with Emulator(emulator_config()) as emulator, pytest.raises(RemoteError):
        run(path, emulator, tmp_path, environ={"CEKURA_API_KEY": "wrong"})


def test_failing_scenarios_fail_the_run(tmp_path: Path) -> None:
    path = write(tmp_path, suite(5, PIPECAT, scenarios=1))
    config = emulator_config(
        defaults=Behaviour(duration=(0.05, 0.05), outcome=ScriptedOutcome.FAILED)
    )
    with Emulator(config) as emulator:
        result = run(path, emulator, tmp_path)
    assert {r.outcome.value for r in result.records} == {"failed"}
    assert result.exit_code == 1 and result.cells_failed == 1


def test_a_missing_api_key_is_a_usage_error_before_anything_happens(tmp_path: Path) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    with Emulator(emulator_config()) as emulator, pytest.raises(UsageError, match="CEKURA"):
        run(path, emulator, tmp_path, environ={"CEKURA_API_KEY": ""})
    assert not (tmp_path / ".specrunner").exists()


def test_the_submit_path_can_be_changed(tmp_path: Path) -> None:
    path = write(tmp_path, suite(5, PIPECAT))
    v2 = "/test_framework/v2/scenarios/run_scenarios_pipecat/"
    with Emulator(emulator_config()) as emulator:
        run(path, emulator, tmp_path, environ={"SPECRUNNER_CEKURA_SUBMIT_PATH": v2})
        posts = {r.path for r in emulator.ledger.requests if r.endpoint == "cekura.run"}
    assert posts == {v2}
