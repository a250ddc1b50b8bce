"""`kill -9` at several points of a 200-run suite, then `--resume`: every planned run is in
the results exactly once, and none is created twice. Ctrl-C exits 130 and can be resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from specrunner.emulator import Behaviour, Emulator, EmulatorConfig

RUNS = 200


def suite_file(tmp_path: Path) -> Path:
    data = {
        "version": 1,
        "name": "kill",
        "rooms": {
            "bot": {
                "source": "pipecat_cloud",
                "agent_name": "bot",
                "api_key": "{{ env.PIPECAT_CLOUD_API_KEY }}",
            }
        },
        "defaults": {
            "repeat": 20,
            "timeout": "2m",
            "publish_data_message": {"run_key": "{{ run.key }}"},
        },
        "scenarios": [{"id": 30 + i, "name": f"s{i}"} for i in range(RUNS // 20)],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def start(args: list[str], emulator: Emulator, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CEKURA", "PIPECAT"))}
    env.update(emulator.environment())
    command = [
        sys.executable,
        "-m",
        "specrunner",
        "run",
        *args,
        "--concurrency",
        "50",
        "--poll-interval",
        "0.1",
    ]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def journal_records(cwd: Path) -> list[dict[str, Any]]:
    journals = list((cwd / ".specrunner" / "runs").glob("*/journal.jsonl"))
    if not journals:
        return []
    lines = journals[0].read_text().splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            break  # a line still being written
    return records


def kill_when(
    process: subprocess.Popen[str],
    cwd: Path,
    ready: Callable[[list[dict[str, Any]]], bool],
    sig: int = signal.SIGKILL,
    limit: float = 60.0,
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"finished before the kill point: {process.stderr.read()}")
        if ready(journal_records(cwd)):
            process.send_signal(sig)
            process.communicate(timeout=30)
            return
        time.sleep(0.01)
    process.kill()
    _, err = process.communicate(timeout=30)
    raise AssertionError(
        f"the kill point was never reached; journal: "
        f"{Counter(r['type'] for r in journal_records(cwd))}; stderr: {err[-800:]}"
    )


def count(kind: str, at_least: int) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda records: sum(r["type"] == kind for r in records) >= at_least


def run_dir(cwd: Path) -> Path:
    (found,) = list((cwd / ".specrunner" / "runs").glob("*"))
    return found


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode in (0, 1), err
    return out


def emulator_config() -> EmulatorConfig:
    # A killed process leaves Pipecat sessions that no call will come to; like real bots,
    # they give up after a while (here 1 s), so the resumed run gets the capacity back.
    return EmulatorConfig(
        queue_seconds=0.05,
        evaluation_seconds=0.05,
        idle_session_seconds=1.0,
        defaults=Behaviour(duration=(0.3, 0.8), pass_probability=0.9),
        reply_order="shuffled",  # the real API promises no order
    )


def check_exactly_once(emulator: Emulator, results: dict[str, Any], planned: int) -> None:
    keys = [run["key"] for run in results["runs"]]
    assert len(keys) == planned == len(set(keys))
    created = Counter(r.publish_data_message["run_key"] for r in emulator.ledger.runs)
    assert max(created.values()) == 1, "a run was created twice"
    for run in results["runs"]:
        assert run["outcome"] in ("passed", "failed", "error", "unknown"), run
        if run["run_id"] is not None:
            assert created[run["key"]] == 1
        elif run["outcome"] != "unknown":
            assert created[run["key"]] == 0, run


def test_kill_9_at_several_points_then_resume(tmp_path: Path) -> None:
    path = suite_file(tmp_path)
    # One submission at a time, so that each kill leaves at most one batch unknown (with
    # several in flight, each may be; exactly once holds either way).
    one = ["--submissions", "1"]
    with Emulator(emulator_config()) as emulator:
        # 1: in the middle of the first submissions
        kill_when(start([str(path), *one], emulator, tmp_path), tmp_path, count("intent", 1))
        where = str(run_dir(tmp_path))
        # 2: while runs are live, a quarter done
        resume = ["--resume", where, *one]
        kill_when(start(resume, emulator, tmp_path), tmp_path, count("final", 50))
        # 3: late, most runs done
        kill_when(start(resume, emulator, tmp_path), tmp_path, count("final", 150))
        finish(start(resume, emulator, tmp_path))
        results = json.loads((Path(where) / "results.json").read_text())
        check_exactly_once(emulator, results, RUNS)
    outcomes = Counter(r["outcome"] for r in results["runs"])
    # Each of the 3 kills leaves at most the one batch (10 runs) it was submitting unknown;
    # every other run was sent and followed to its end. (Some may end in an error: on a
    # slow machine a session whose call comes late gives up, as real bots do.)
    assert outcomes["unknown"] <= 3 * 10, outcomes
    assert outcomes["not_run"] == 0, outcomes
    assert outcomes["passed"] + outcomes["failed"] >= RUNS // 2, outcomes


def test_ctrl_c_exits_130_with_partial_results_and_resume_finishes(tmp_path: Path) -> None:
    path = suite_file(tmp_path)
    with Emulator(emulator_config()) as emulator:
        process = start([str(path), "-o", "partial.json"], emulator, tmp_path)
        kill_when(process, tmp_path, count("final", 20), sig=signal.SIGINT)
        assert process.returncode == 130
        partial = json.loads((tmp_path / "partial.json").read_text())
        assert len(partial["runs"]) == RUNS
        assert partial["verdict"]["outcomes"]["not_run"] > 0
        where = str(run_dir(tmp_path))
        finish(start(["--resume", where], emulator, tmp_path))
        results = json.loads((Path(where) / "results.json").read_text())
        check_exactly_once(emulator, results, RUNS)
    assert results["verdict"]["outcomes"]["not_run"] == 0
