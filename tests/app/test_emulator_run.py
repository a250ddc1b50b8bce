"""`run --emulator` runs any valid suite unchanged: the rooms of a static pool exist in the
in-process emulator with their tokens, whatever their domain; `--emulator-config FILE`
hands it a configuration (outcomes, timing, faults), and what it says of itself is shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from specrunner.cli import main

POOL = """\
version: 1
name: pool
rooms:
  lab:
    source: static
    rooms:
      - {url: "https://acme.daily.co/lab-1", token: "{{ env.LAB_TOKEN }}"}
      - {url: "https://rooms.example.daily.co/lab-2"}
scenarios:
  - {id: 30, name: a, repeat: 3}
  - {id: 31, name: b, repeat: 2}
"""


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    (tmp_path / "pool.yaml").write_text(POOL, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAB_TOKEN", "tok-lab-1-secret")
    for name in ("CEKURA_API_KEY", "CEKURA_API_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        main, ["run", "pool.yaml", "--poll-interval", "0.1", "-o", "out.json", *args]
    )
    return result.exit_code, result.output


def test_a_static_pool_of_another_domain_runs_on_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = run(tmp_path, monkeypatch, "--emulator")
    assert code == 0, output
    assert "5 runs: 5 passed" in output
    assert "tok-lab-1-secret" not in output
    assert "Could not join" not in (tmp_path / "out.json").read_text()


def test_emulator_config_sets_outcomes_and_timing_and_is_noted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "emu.yaml").write_text(
        "time_scale: 5\ncekura:\n  scenarios:\n    31: {outcome: failed, duration: [1, 1]}\n",
        encoding="utf-8",
    )
    code, output = run(tmp_path, monkeypatch, "--emulator-config", "emu.yaml")
    assert code == 1, output  # scenario 31 fails, as the configuration says
    assert "3 passed" in output and "2 failed" in output
    assert "note: time_scale 5" in output


def test_a_bad_emulator_config_is_a_located_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "emu.yaml").write_text("cekura:\n  bogus: 1\n", encoding="utf-8")
    code, output = run(tmp_path, monkeypatch, "--emulator-config", "emu.yaml")
    assert code == 2, output
    assert "emu.yaml:2:3: unknown key 'bogus'" in output
    assert not (tmp_path / ".specrunner").exists()  # nothing was made


SOURCES = {
    "daily": (
        '{source: daily, api_key: "{{ env.DAILY_API_KEY }}", '
        'start_bot: {url: "{{ env.BOT_START_URL }}"}}'
    ),
    "pipecat_cloud": (
        '{source: pipecat_cloud, agent_name: bot, api_key: "{{ env.PIPECAT_CLOUD_API_KEY }}"}'
    ),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_daily_rooms_with_a_bot_and_pipecat_sessions_run_with_no_other_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    suite = f"version: 1\nname: rooms\nrooms:\n  bot: {SOURCES[source]}\n"
    suite += "scenarios:\n  - {id: 30, name: a, repeat: 2}\n  - {id: 31, name: b}\n"
    (tmp_path / "rooms.yaml").write_text(suite, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("CEKURA_API_KEY", "DAILY_API_KEY", "PIPECAT_CLOUD_API_KEY", "BOT_START_URL"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(main, ["run", "rooms.yaml", "--emulator", "--poll-interval", "0.1"])
    assert result.exit_code == 0, result.output
    assert "3 runs: 3 passed" in result.output
