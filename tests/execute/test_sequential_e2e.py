"""Sequential cells against the emulator (answers in any order, refused and failed requests
retried): a cell whose calls all pass stops within a handful of runs, one whose calls all
fail at its min; runs go in repeat order, once each; a killed run resumes the cells from
its journal and sends no run twice; a finished one sends nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from test_kill_resume import count, finish, kill_when, run_dir, start
from test_run_e2e import PIPECAT, emulator_config, run, write

from specrunner.emulator import Behaviour, Emulator, Fault

ALL_PASS, ALL_FAIL, MIXED = 30, 31, 32
FAULTS = (
    Fault("cekura.run", status=429, retry_after=0.01, rate=0.2),  # refused: sent again
    Fault("cekura.bulk", status=500, rate=0.2),  # a poll fails: asked again
)


def sequential_suite(**expect: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "name": "adaptive",
        "rooms": {"bot": PIPECAT},
        "defaults": {
            "repeat": {"min": 3, "max": 20},
            "timeout": "1m",
            "expect": {"pass_rate": 0.6, **expect},
            "publish_data_message": {"run_key": "{{ run.key }}", "repeat": "{{ run.repeat }}"},
        },
        "scenarios": [
            {"id": ALL_PASS, "name": "passes"},
            {"id": ALL_FAIL, "name": "fails"},
            {"id": MIXED, "name": "mixed", "repeat": 6},
        ],
    }


def behaviours(duration: tuple[float, float] = (0.05, 0.15)) -> dict[int, Behaviour]:
    return {
        ALL_PASS: Behaviour(duration=duration, pass_probability=1.0),
        ALL_FAIL: Behaviour(duration=duration, pass_probability=0.0),
        MIXED: Behaviour(duration=duration, pass_probability=0.5),
    }


def sent_repeats(emulator: Emulator) -> dict[int, list[int]]:
    """Each scenario's repeats that Cekura received, in repeat order (runs in flight
    together, each in its own POST, may arrive in any order)."""
    order: dict[int, list[int]] = {}
    for created in emulator.ledger.runs:
        order.setdefault(created.scenario, []).append(int(created.publish_data_message["repeat"]))
    return {scenario: sorted(repeats) for scenario, repeats in order.items()}


def test_a_passing_cell_stops_in_a_handful_of_runs_and_a_failing_one_at_its_min(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, sequential_suite(confidence=0.95))
    config = emulator_config(scenarios=behaviours(), faults=FAULTS, seed=11)
    with Emulator(config) as emulator:
        result = run(path, emulator, tmp_path, concurrency=10, outputs=("r.json",))
        created = Counter(r.publish_data_message["run_key"] for r in emulator.ledger.runs)
        order = sent_repeats(emulator)
    assert max(created.values()) == 1
    assert order[ALL_PASS] == [1, 2, 3, 4]  # a handful: four passes decide at 95%
    assert order[ALL_FAIL] == [1, 2, 3]  # its min
    assert order[MIXED] == [1, 2, 3, 4, 5, 6]  # a plain repeat: all sent
    report = json.loads((tmp_path / "r.json").read_text())
    cells = {c["scenario"]: c for c in report["cells"]}
    assert cells["passes"]["met"] and not cells["fails"]["met"]
    assert cells["passes"]["sequential"] == {
        "min": 3,
        "max": 20,
        "sent": 4,
        "stopped": "confidence",
        "reason": "pass rate above 0.6 at 95% confidence",
    }
    assert cells["fails"]["sequential"]["sent"] == 3
    assert cells["fails"]["sequential"]["stopped"] == "confidence"
    assert "sequential" not in cells["mixed"]
    assert cells["passes"]["runs"] == 4 and cells["passes"]["outcomes"]["not_needed"] == 16
    assert report["verdict"]["outcomes"]["not_needed"] == 16 + 17
    assert report["verdict"]["runs"] == 4 + 3 + 6
    assert result.exit_code == 1  # the failing cell fails the run


def test_without_confidence_a_cell_stops_only_when_its_verdict_cannot_change(
    tmp_path: Path,
) -> None:
    """pass_rate 0.6 of 20 needs 12 passes; 9 failures put it out of reach."""
    path = write(tmp_path, sequential_suite())
    with Emulator(emulator_config(scenarios=behaviours(), seed=12)) as emulator:
        run(path, emulator, tmp_path, concurrency=20, outputs=("r.json",))
        order = sent_repeats(emulator)
    assert order[ALL_PASS] == list(range(1, 13))
    assert order[ALL_FAIL] == list(range(1, 10))
    cells = {c["scenario"]: c for c in json.loads((tmp_path / "r.json").read_text())["cells"]}
    assert cells["passes"]["sequential"]["stopped"] == "exact"
    assert cells["passes"]["sequential"]["reason"] == "met whatever the other 8 runs would do"


def test_a_killed_run_resumes_its_cells_and_sends_no_run_twice(tmp_path: Path) -> None:
    data = sequential_suite()  # exactly: the passing cell needs 12 runs, the failing one 9
    path = write(tmp_path, data)
    config = emulator_config(scenarios=behaviours((0.3, 0.6)), idle_session_seconds=1.0, seed=13)
    with Emulator(config) as emulator:
        process = start([str(path)], emulator, tmp_path)
        kill_when(process, tmp_path, count("submitted", 3))
        before = len(emulator.ledger.runs)
        resumed = start(["--resume", str(run_dir(tmp_path))], emulator, tmp_path)
        finish(resumed)
        created = Counter(r.publish_data_message["run_key"] for r in emulator.ledger.runs)
        order = sent_repeats(emulator)
        again = start(["--resume", str(run_dir(tmp_path))], emulator, tmp_path)
        finish(again)
        after = len(emulator.ledger.runs)
    assert before > 0
    assert max(created.values()) == 1, "a run was created twice"
    results = json.loads((run_dir(tmp_path) / "results.json").read_text())
    outcomes = Counter(run["outcome"] for run in results["runs"] if run["scenario"] == "passes")
    # Runs the kill left unknown count as not passed: the cell may need more of its 20.
    assert outcomes["not_run"] == 0
    assert outcomes["passed"] + outcomes["unknown"] + outcomes["not_needed"] == 20
    # The first ones, in repeat order: but for a run the kill left between its intent and
    # its POST (unknown: it may have been sent, so it never is again), which Cekura lacks.
    unsent_unknown = {
        run["repeat"]
        for run in results["runs"]
        if run["scenario"] == "passes" and run["outcome"] == "unknown"
    } - set(order[ALL_PASS])
    taken = sorted(set(order[ALL_PASS]) | unsent_unknown)
    assert taken == list(range(1, len(taken) + 1))
    assert after == len(created)  # a decided cell sends nothing when resumed again
