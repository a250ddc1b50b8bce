"""`specrunner run` at its edges, through the real CLI in a subprocess against the emulator
in-process (issue 10): answers in any order, interrupts (one Ctrl-C, two, SIGTERM,
`--on-interrupt end`), an unreachable or refusing Cekura, `--emulator` runs resumed,
damaged or locked run directories, `specrunner cancel`, and early stops that leak nothing.

Every wait is bounded in count and time, every subprocess has a timeout, and everything
talks to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import specrunner
from specrunner.app.running import STOPPING_END, STOPPING_LEAVE
from specrunner.emulator import Behaviour, Emulator, EmulatorConfig, Fault, ScriptedOutcome
from specrunner.emulator.runs import FINAL

RUN_ENDPOINT = "cekura.run"
"""The emulator's name for the run POST (specrunner/emulator/service.py)."""
BULK_ENDPOINT = "cekura.bulk"
"""The emulator's name for the v2 and the v1 bulk runs endpoints."""

PIPECAT = {
    "source": "pipecat_cloud",
    "agent_name": "bot",
    "api_key": "{{ env.PIPECAT_CLOUD_API_KEY }}",
    "private_api_key": "{{ env.PIPECAT_CLOUD_PRIVATE_KEY }}",
}
DAILY = {
    "source": "daily",
    "api_key": "{{ env.DAILY_API_KEY }}",
    "start_bot": {"url": "{{ env.BOT_START_URL }}"},  # a run in a room with no agent fails
}
QUICK = Behaviour(duration=(0.2, 0.2), pass_probability=1.0)
LONG = Behaviour(duration=(60.0, 60.0), pass_probability=1.0)
"""Calls that are still live whenever the test looks (the runs' timeout is longer)."""


# -- helpers


def config(**changes: Any) -> EmulatorConfig:
    values: dict[str, Any] = {
        "queue_seconds": 0.02,
        "evaluation_seconds": 0.02,
        "defaults": QUICK,
        "daily_rate_limit": False,
        "reply_order": "shuffled",  # the real API promises no order
    }
    values.update(changes)
    return EmulatorConfig(**values)


def suite(
    scenarios: list[dict[str, Any]], *, repeat: int = 2, rooms: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A suite of `scenarios`, each run `repeat` times, with a timeout of 2 minutes; each
    run's payload carries its key (so the ledger tells which run Cekura was sent)."""
    return {
        "version": 1,
        "name": "edges",
        "rooms": rooms or {"bot": PIPECAT},
        "defaults": {
            "repeat": repeat,
            "timeout": "2m",
            "publish_data_message": {"run_key": "{{ run.key }}"},
        },
        "scenarios": scenarios,
    }


def scenarios(*ids: int, room: str | None = None) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"s{i}", **({"room": room} if room else {})} for i in ids]


def write(cwd: Path, data: dict[str, Any]) -> Path:
    path = cwd / "suite.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def environment(emulator: Emulator | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CEKURA", "PIPECAT", "DAILY"))}
    env.pop("SPECRUNNER_CEKURA_SUBMIT_PATH", None)
    if emulator is not None:
        env.update(emulator.environment())
    env.update(extra)
    return env


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`specrunner ARGS...` in a subprocess (`run` polls every 0.1 s)."""
    command = [sys.executable, "-m", "specrunner", *args]
    if args[0] == "run":
        command += ["--poll-interval", "0.1"]
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_args(path: Path, options: str = "") -> list[str]:
    """The arguments of `specrunner run SUITE OPTIONS...`."""
    return ["run", str(path), *options.split()]


def cli(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 60.0) -> Finished:
    process = start(args, cwd, env)
    return finish(process, timeout)


class Finished:
    def __init__(self, code: int, out: str, err: str, seconds: float) -> None:
        self.code, self.out, self.err, self.seconds = code, out, err, seconds

    @property
    def text(self) -> str:
        return self.out + self.err

    def __repr__(self) -> str:
        return f"exit {self.code} after {self.seconds:.1f} s\n{self.out}\n{self.err}"


def finish(process: subprocess.Popen[str], timeout: float, since: float | None = None) -> Finished:
    since = time.monotonic() if since is None else since
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"no exit within {timeout} s:\n{out}\n{err}") from None
    return Finished(process.returncode, out, err, time.monotonic() - since)


def run_dir(cwd: Path) -> Path:
    found = list((cwd / ".specrunner" / "runs").glob("*"))
    assert len(found) == 1, found
    return found[0]


def journal(cwd: Path) -> list[dict[str, Any]]:
    """The journal's complete records so far (a line being written is left out)."""
    runs = cwd / ".specrunner" / "runs"
    paths = list(runs.glob("*/journal.jsonl")) if runs.is_dir() else []
    records = []
    for line in paths[0].read_text().splitlines() if paths else []:
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    return records


def wait_until(
    what: str,
    ready: Callable[[], bool],
    process: subprocess.Popen[str] | None = None,
    limit: float = 30.0,
) -> None:
    deadline = time.monotonic() + limit
    for _ in range(int(limit / 0.01) + 1):
        if ready():
            return
        if process is not None and process.poll() is not None:
            out, err = process.communicate(timeout=10)
            raise AssertionError(f"exited {process.returncode} before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if process is not None:
        process.kill()
        process.communicate(timeout=10)
    raise AssertionError(f"never {what} within {limit} s")


def of_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == kind]


def submitted_keys(records: list[dict[str, Any]]) -> dict[str, int]:
    return {key: run_id for r in of_type(records, "submitted") for key, run_id in r["runs"].items()}


def results(where: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((where / "results.json").read_text())
    return data


def planned_keys(where: Path) -> list[str]:
    start_record = json.loads((where / "journal.jsonl").read_text().splitlines()[0])
    keys: list[str] = start_record["keys"]
    return keys


def created(emulator: Emulator) -> Counter[str]:
    """How many times the emulator created each run key."""
    return Counter(r.publish_data_message["run_key"] for r in emulator.ledger.runs)


def posts(emulator: Emulator) -> int:
    return sum(1 for r in emulator.ledger.requests if r.endpoint == RUN_ENDPOINT)


def live_calls(emulator: Emulator) -> list[int]:
    emulator.ledger  # noqa: B018 - brings the simulation up to now
    with emulator.app.lock:
        return [r.id for r in emulator.app.simulation.runs.values() if r.status not in FINAL]


def live_sessions(emulator: Emulator) -> list[str]:
    return [s.session_id for s in emulator.ledger.sessions if s.ended_at is None]


def undeleted_rooms(emulator: Emulator) -> list[str]:
    made = [r for r in emulator.ledger.rooms if r.created_by == "daily"]
    return [r.name for r in made if r.deleted_at is None]


def check_every_planned_run_once(emulator: Emulator, where: Path) -> dict[str, dict[str, Any]]:
    """Every planned run is in results.json exactly once; the ledger holds each at most once
    and nothing that was not planned. The runs by key."""
    planned = planned_keys(where)
    runs = results(where)["runs"]
    assert sorted(r["key"] for r in runs) == sorted(planned)
    made = created(emulator)
    assert not made or max(made.values()) == 1, f"a run was created twice: {made}"
    assert set(made) <= set(planned)
    return {r["key"]: r for r in runs}


def shown(where: Path) -> str:
    """A run directory as the run prints it: relative to its working directory."""
    return str(Path(".specrunner", "runs", where.name))


def closing_commands(where: Path) -> tuple[str, str]:
    return f"specrunner run --resume {shown(where)}", f"specrunner cancel {shown(where)}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def finished_run(cwd: Path, emulator: Emulator, data: dict[str, Any]) -> Path:
    """A run of `data` to its end (in-process, for speed); its run directory."""
    path = write(cwd, data)
    with contextlib.chdir(cwd):
        result = specrunner.run(str(path), environ=environment(emulator), poll_interval=0.05)
    assert result.run_dir is not None and result.exit_code in (0, 1)
    return result.run_dir


# -- 1. Cekura's answer is matched to its entries by scenario, whatever its order

SCRIPTED = {
    30: ScriptedOutcome.PASSED,
    31: ScriptedOutcome.FAILED,
    32: ScriptedOutcome.ERROR,
}
EXPECTED = {30: "passed", 31: "failed", 32: "error"}


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_an_answer_in_any_order_gives_each_run_its_own_outcome(tmp_path: Path, order: str) -> None:
    behaviours = {
        scenario: Behaviour(outcome=outcome, duration=(0.2, 0.2))
        for scenario, outcome in SCRIPTED.items()
    }
    data = suite(scenarios(30, 31, 32), repeat=4)
    path = write(tmp_path, data)
    with Emulator(config(reply_order=order, scenarios=behaviours)) as emulator:
        args = run_args(path, "--concurrency 12 --batch-size 3")
        done = cli(args, tmp_path, environment(emulator))
        assert done.code == 1, done  # scenarios 31 and 32 fail their cells
        where = run_dir(tmp_path)
        runs = check_every_planned_run_once(emulator, where)
        ledger = {r.run_id: r for r in emulator.ledger.runs}
        batches = Counter(r.request_seq for r in emulator.ledger.runs)
    assert len(ledger) == len(runs) == 12
    assert max(batches.values()) >= 2, "no POST held several entries: nothing was reordered"
    for key, run in runs.items():
        made = ledger[run["run_id"]]
        assert made.publish_data_message["run_key"] == key
        assert made.scenario == run["scenario_id"]
        assert run["outcome"] == EXPECTED[run["scenario_id"]], run


# -- 2. Interrupts


@pytest.mark.parametrize(
    ("sig", "submissions"),
    [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 3)],
    ids=["SIGINT", "SIGTERM", "SIGINT-3-posts"],
)
def test_the_first_interrupt_lets_the_post_in_flight_finish_and_resume_sends_the_rest(
    tmp_path: Path, sig: signal.Signals, submissions: int
) -> None:
    latency = 2.0
    slow_post = Fault(RUN_ENDPOINT, latency=latency, nth=frozenset({1}))
    path = write(tmp_path, suite(scenarios(30, 31, 32, 33), repeat=2))
    # sessions end only when stopped (not with their calls): the rooms are followed too
    with Emulator(config(faults=(slow_post,), end_session_with_call=False)) as emulator:
        env = environment(emulator)
        args = f"--concurrency 4 --batch-size 2 --submissions {submissions}"
        process = start(run_args(path, args), tmp_path, env)
        wait_until("an intent", lambda: bool(of_type(journal(tmp_path), "intent")), process)
        signalled = time.monotonic()
        process.send_signal(sig)
        done = finish(process, 30, since=signalled)
        assert done.code == 130, done
        assert done.seconds <= latency + 2.0, done
        where = run_dir(tmp_path)
        records = journal(tmp_path)
        sent = submitted_keys(records)
        # the POSTs in flight finished and their run ids were journaled; nothing more was
        # sent (with one at a time, only the first went)
        intents = of_type(records, "intent")
        assert posts(emulator) == len(intents) <= submissions
        assert {k for intent in intents for k in intent["keys"]} == set(sent)
        assert sent and created(emulator) == Counter(list(sent))
        assert {r.run_id for r in emulator.ledger.runs} == set(sent.values())
        partial = results(where)
        assert partial["stopped"]
        outcomes = {r["key"]: r["outcome"] for r in partial["runs"]}
        assert len(outcomes) == 8
        finals = {r["key"] for r in of_type(records, "final")}
        # live, for --resume (with several POSTs, the fast ones' runs may have ended)
        assert all(outcomes[k] == "unknown" or k in finals for k in sent)
        assert submissions > 1 or not finals
        assert {o for k, o in outcomes.items() if k not in sent} == {"not_run"}
        resume, cancel = closing_commands(where)
        assert f"run directory: {shown(where)}" in done.text
        assert resume in done.text and cancel in done.text
        assert done.err.count(STOPPING_LEAVE) == 1, done
        # the rooms of runs never sent were given back: only the sessions of sent runs live
        rooms_sent = {r.pipecat_room_url.rsplit("/", 1)[1] for r in emulator.ledger.runs}
        assert {s.room for s in emulator.ledger.sessions if s.ended_at is None} <= rooms_sent

        resumed = cli(["run", "--resume", str(where)], tmp_path, env)
        assert resumed.code in (0, 1), resumed
        runs = check_every_planned_run_once(emulator, where)
        assert sorted(created(emulator)) == sorted(runs)
        assert live_sessions(emulator) == [], "the resume left a session of a live run"
    assert {r["outcome"] for r in runs.values()} <= {"passed", "failed"}
    assert all(runs[key]["run_id"] == run_id for key, run_id in sent.items())


def interrupt_twice(tmp_path: Path, emulator: Emulator, latency: float) -> tuple[Finished, Path]:
    """Ctrl-C twice while the first POST is in flight (it takes `latency` seconds)."""
    path = write(tmp_path, suite(scenarios(30, 31, 32, 33), repeat=2))
    env = environment(emulator)
    args = "--concurrency 4 --batch-size 2 --submissions 1"
    process = start(run_args(path, args), tmp_path, env)
    wait_until("an intent", lambda: bool(of_type(journal(tmp_path), "intent")), process)
    posted = time.monotonic()
    process.send_signal(signal.SIGINT)
    time.sleep(0.3)
    again = time.monotonic()
    process.send_signal(signal.SIGINT)
    done = finish(process, 30, since=again)
    assert done.code == 130, done
    assert done.seconds < 2.0 and time.monotonic() - posted < latency, done
    return done, run_dir(tmp_path)


def test_a_second_interrupt_stops_at_once_and_resume_never_sends_a_cut_off_run(
    tmp_path: Path,
) -> None:
    latency = 3.0
    slow_post = Fault(RUN_ENDPOINT, latency=latency, nth=frozenset({1}))
    with Emulator(config(faults=(slow_post,))) as emulator:
        done, where = interrupt_twice(tmp_path, emulator, latency)
        assert "specrunner: interrupted" in done.err
        assert f"run directory: {shown(where)}" in done.err
        records = journal(tmp_path)
        assert not of_type(records, "submitted")
        (intent,) = of_type(records, "intent")
        cut_off = intent["keys"]
        assert len(results(where)["runs"]) == 8
        # the emulator carries the POST out after its latency: the runs exist, unseen
        wait_until("the cut-off POST applied", lambda: len(emulator.ledger.runs) == len(cut_off))

        resumed = cli(["run", "--resume", str(where)], tmp_path, environment(emulator))
        assert resumed.code in (0, 1), resumed
        runs = check_every_planned_run_once(emulator, where)
        made = created(emulator)
    assert sorted(made) == sorted(runs), "a planned run was never sent"
    for key in cut_off:
        assert made[key] == 1
        assert runs[key]["outcome"] == "unknown" and runs[key]["run_id"] is None, runs[key]
    assert all(r["outcome"] in ("passed", "failed") for k, r in runs.items() if k not in cut_off)


def test_after_a_second_interrupt_cut_off_runs_are_unknown_and_keep_their_rooms(
    tmp_path: Path,
) -> None:
    latency = 3.0
    slow_post = Fault(RUN_ENDPOINT, latency=latency, nth=frozenset({1}))
    with Emulator(config(faults=(slow_post,))) as emulator:
        done, where = interrupt_twice(tmp_path, emulator, latency)
        (intent,) = of_type(journal(tmp_path), "intent")
        cut_off = intent["keys"]
        wait_until("the cut-off POST applied", lambda: len(emulator.ledger.runs) == len(cut_off))
        rooms = {r.pipecat_room_url.rsplit("/", 1)[1] for r in emulator.ledger.runs}
        stopped = [s.room for s in emulator.ledger.sessions if s.ended_by == "stopped"]
        partial = {r["key"]: r for r in results(where)["runs"]}
        outcomes = {partial[key]["outcome"] for key in cut_off}
    assert not rooms & set(stopped), "the room of a run Cekura got was given back"
    assert outcomes == {"unknown"}, outcomes
    assert f"left: {8 - len(cut_off)} runs never sent" in done.err, done


def two_sources() -> dict[str, Any]:
    """Scenarios 30 and 31 in Pipecat Cloud sessions, 32 and 33 in Daily rooms."""
    return suite(
        [*scenarios(30, 31, room="bot"), *scenarios(32, 33, room="lab")],
        repeat=1,
        rooms={"bot": PIPECAT, "lab": DAILY},
    )


def test_on_interrupt_end_ends_the_live_calls_and_releases_their_rooms(tmp_path: Path) -> None:
    path = write(tmp_path, two_sources())
    slow_second_post = Fault(RUN_ENDPOINT, latency=1.5, nth=frozenset({2}))
    # sessions end only when stopped (not with their calls): releasing is what ends them
    settings = config(defaults=LONG, end_session_with_call=False, faults=(slow_second_post,))
    with Emulator(settings) as emulator:
        args = run_args(path, "--concurrency 4 --batch-size 2 --on-interrupt end")
        process = start(args, tmp_path, environment(emulator))

        def second_post_in_flight() -> bool:
            records = journal(tmp_path)
            return len(of_type(records, "intent")) == 2 and len(of_type(records, "submitted")) == 1

        wait_until("the second POST in flight", second_post_in_flight, process)
        assert len(live_calls(emulator)) == len(submitted_keys(journal(tmp_path)))
        assert len(live_sessions(emulator)) + len(undeleted_rooms(emulator)) == 4
        process.send_signal(signal.SIGINT)
        done = finish(process, 30)
        assert done.code == 130, done
        assert len(submitted_keys(journal(tmp_path))) == 4  # the POST in flight finished
        assert len(emulator.ledger.runs) == 4
        assert live_calls(emulator) == [], "a call was left live"
        assert live_sessions(emulator) == [], "a Pipecat session was left live"
        assert undeleted_rooms(emulator) == [], "a Daily room was left"
        runs = results(run_dir(tmp_path))["runs"]
    assert {r["outcome"] for r in runs} == {"error"}
    assert all("--on-interrupt end" in r["error"] for r in runs)
    assert "specrunner cancel" not in done.text  # nothing is left to cancel
    assert done.err.count(STOPPING_END) == 1, done


def test_on_interrupt_end_while_a_room_is_being_leased_leaves_no_session(tmp_path: Path) -> None:
    slow_start = Fault("pipecat.start", latency=1.5, nth=frozenset({3}))
    path = write(tmp_path, suite(scenarios(30, 31, 32), repeat=1))
    with Emulator(config(defaults=LONG, faults=(slow_start,))) as emulator:
        args = run_args(path, "--concurrency 3 --batch-size 2 --on-interrupt end")
        process = start(args, tmp_path, environment(emulator))
        wait_until("two runs live", lambda: len(submitted_keys(journal(tmp_path))) == 2, process)
        process.send_signal(signal.SIGINT)  # the third session's start is still in flight
        done = finish(process, 30)
        assert done.code == 130, done
        wait_until("the slow start applied", lambda: len(emulator.ledger.sessions) == 3)
        assert live_calls(emulator) == []
        assert live_sessions(emulator) == [], "a Pipecat session was left live"


# -- 3. An unreachable or refusing Cekura


def test_an_unreachable_cekura_exits_3_within_45_s_with_one_error_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    path = write(tmp_path, suite(scenarios(30, 31), repeat=1))
    with Emulator(config()) as emulator:  # the rooms still come from the emulator
        env = environment(emulator, CEKURA_API_URL=url)
        done = cli(run_args(path), tmp_path, env, timeout=60)
        assert done.code == 3, done
        assert done.seconds <= 45, done
        errors = [line for line in done.err.splitlines() if line.startswith("specrunner: error:")]
        assert len(errors) == 1 and url in errors[0], done
        where = run_dir(tmp_path)
        assert f"run directory: {shown(where)}" in done.err
        assert closing_commands(where)[0] in done.err
        assert live_sessions(emulator) == [], "the rooms of unsent runs were kept"
    assert {r["outcome"] for r in results(where)["runs"]} <= {"error", "not_run"}


@pytest.mark.parametrize("status", [403, 400])
def test_a_refused_poll_exits_3_and_leaves_the_runs_live(tmp_path: Path, status: int) -> None:
    path = write(tmp_path, suite(scenarios(30, 31), repeat=1))
    refused = Fault(BULK_ENDPOINT, status=status)
    with Emulator(config(defaults=LONG, faults=(refused,))) as emulator:
        done = cli(run_args(path, "--batch-size 2"), tmp_path, environment(emulator))
        assert done.code == 3, done
        assert done.err.count("specrunner: error:") == 1, done
        where = run_dir(tmp_path)
        assert f"run directory: {shown(where)}" in done.err
        resume, cancel = closing_commands(where)
        assert resume in done.err and cancel in done.err
        polled = {r.path for r in emulator.ledger.requests if r.endpoint == BULK_ENDPOINT}
        assert {p.split("/")[2] for p in polled} == {"v1", "v2"}, polled
        assert len(live_calls(emulator)) == 2, "the runs were not left live"
        assert max(created(emulator).values()) == 1
    runs = results(where)["runs"]
    assert {r["outcome"] for r in runs} == {"unknown"}
    assert all(r["run_id"] is not None for r in runs)


# -- 4. Resuming a run made with --emulator


def test_resuming_an_emulator_run_does_not_wait_for_runs_lost_with_it(tmp_path: Path) -> None:
    path = write(tmp_path, suite(scenarios(30, 31, 32), repeat=2))
    env = environment(None)
    process = start(run_args(path, "--emulator --concurrency 2 --batch-size 2"), tmp_path, env)
    wait_until("runs live", lambda: bool(submitted_keys(journal(tmp_path))), process)
    process.send_signal(signal.SIGINT)
    done = finish(process, 30)
    assert done.code == 130, done
    where = run_dir(tmp_path)
    lost = submitted_keys(journal(tmp_path))
    assert 0 < len(lost) < 6
    resumed = cli(["run", "--resume", str(where)], tmp_path, env, timeout=90)
    assert resumed.code in (0, 1), resumed
    assert resumed.seconds < 30, "it waited for runs it can no longer follow"  # timeout: 2m
    runs = {r["key"]: r for r in results(where)["runs"]}
    assert sorted(runs) == sorted(planned_keys(where))
    intended = {key for r in of_type(journal(tmp_path), "intent") for key in r["keys"]}
    for key, run in runs.items():
        if key in lost:
            assert run["outcome"] == "unknown", run
            assert "in-process emulator" in run["error"], run
        else:
            assert key in intended, f"{key} was never sent"
            # followed to its end in the new emulator (its id is no clash with the old one's)
            assert run["outcome"] in ("passed", "failed", "error"), run


# -- 5. The run directory's integrity, through the CLI


def test_resume_refuses_a_journal_with_a_damaged_middle_line(tmp_path: Path) -> None:
    with Emulator(config()) as emulator:
        where = finished_run(tmp_path, emulator, suite(scenarios(30, 31), repeat=2))
        lines = (where / "journal.jsonl").read_text().splitlines(keepends=True)
        assert len(lines) > 5
        lines[2] = '{"type": "intent", "batch"\n'
        (where / "journal.jsonl").write_text("".join(lines))
        before = len(emulator.ledger.requests)
        done = cli(["run", "--resume", str(where)], tmp_path, environment(emulator))
        assert done.code == 2, done
        assert "journal.jsonl:3: " in done.err and "damaged" in done.err, done
        assert len(emulator.ledger.requests) == before


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("payload", "payloads"),
        ("scenario id", "scenarios"),
    ],
)
def test_resume_refuses_a_changed_suite_and_names_what_changed(
    tmp_path: Path, change: str, named: str
) -> None:
    data = suite(scenarios(30, 31), repeat=2)
    with Emulator(config()) as emulator:
        where = finished_run(tmp_path, emulator, data)
        if change == "payload":
            data["defaults"]["publish_data_message"] = {"run_key": "{{ run.key }}!"}
        else:
            data["scenarios"][1]["id"] = 41
        write(tmp_path, data)
        before = len(emulator.ledger.requests)
        done = cli(["run", "--resume", str(where)], tmp_path, environment(emulator))
        assert done.code == 2, done
        assert "changed" in done.err and named in done.err, done
        assert len(emulator.ledger.requests) == before


def test_resume_refuses_a_run_directory_held_by_a_live_process(tmp_path: Path) -> None:
    with Emulator(config()) as emulator:
        where = finished_run(tmp_path, emulator, suite(scenarios(30), repeat=1))
        (where / "lock").write_text(f"{os.getpid()}\n")
        done = cli(["run", "--resume", str(where)], tmp_path, environment(emulator))
    assert done.code == 2, done
    assert f"process {os.getpid()}" in done.err, done
    assert (where / "lock").read_text() == f"{os.getpid()}\n"  # left to its holder


def test_resume_takes_over_a_stale_lock(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    with pytest.raises(ProcessLookupError):
        os.kill(gone.pid, 0)
    with Emulator(config()) as emulator:
        where = finished_run(tmp_path, emulator, suite(scenarios(30), repeat=1))
        (where / "lock").write_text(f"{gone.pid}\n")
        (where / "results.json").unlink()
        done = cli(["run", "--resume", str(where)], tmp_path, environment(emulator))
    assert done.code in (0, 1), done
    assert not (where / "lock").exists()
    assert len(results(where)["runs"]) == 1


# -- 6. specrunner cancel


def test_cancel_ends_live_calls_releases_rooms_and_a_later_resume_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    # 30 (Pipecat) and 31 (Daily) are sent first (the scenarios are taken in turn) and stay
    # live, holding both slots; 32 and 33 are never sent
    data = suite(
        [
            *scenarios(30, room="bot"),
            *scenarios(31, room="lab"),
            *scenarios(32, room="bot"),
            *scenarios(33, room="lab"),
        ],
        repeat=1,
        rooms={"bot": PIPECAT, "lab": DAILY},
    )
    path = write(tmp_path, data)
    settings = config(scenarios={30: LONG, 31: LONG}, end_session_with_call=False)
    with Emulator(settings) as emulator:
        env = environment(emulator)
        process = start(run_args(path, "--concurrency 2 --batch-size 2"), tmp_path, env)
        wait_until("two runs live", lambda: len(submitted_keys(journal(tmp_path))) == 2, process)
        process.send_signal(signal.SIGINT)
        done = finish(process, 30)
        assert done.code == 130, done
        where = run_dir(tmp_path)
        live = submitted_keys(journal(tmp_path))
        assert len(live_calls(emulator)) == 2
        assert live_sessions(emulator) and undeleted_rooms(emulator)

        cancelled = cli(["cancel", str(where)], tmp_path, env)
        assert cancelled.code == 0, cancelled
        assert "ended the calls of 2 runs" in cancelled.out, cancelled
        assert live_calls(emulator) == [], "a call was left live"
        assert live_sessions(emulator) == [], "a Pipecat session was left live"
        assert undeleted_rooms(emulator) == [], "a Daily room was left"
        statuses = {r.status for r in emulator.app.simulation.runs.values()}
        assert statuses == {"cancelled"}

        again = cli(["cancel", str(where)], tmp_path, env)
        assert again.code == 0 and "nothing to cancel" in again.out, again

        resumed = cli(["run", "--resume", str(where)], tmp_path, env)
        assert resumed.code in (0, 1), resumed
        runs = check_every_planned_run_once(emulator, where)
        made = created(emulator)
    assert sorted(made) == sorted(runs)
    for key, run in runs.items():
        if key in live:
            assert run["outcome"] == "error" and run["run_id"] == live[key], run
        else:
            assert run["outcome"] == "passed", run


# -- 7. Early stops leak nothing


def test_a_refused_key_stops_with_exit_3_and_deletes_every_daily_room(tmp_path: Path) -> None:
    path = write(tmp_path, suite(scenarios(30, 31, 32, 33), repeat=2, rooms={"lab": DAILY}))
    with Emulator(config()) as emulator:
        env = environment(emulator, CEKURA_API_KEY="not-the-key")
        done = cli(run_args(path, "--concurrency 4 --batch-size 2"), tmp_path, env)
        assert done.code == 3, done
        assert "API key" in done.err
        made = [r for r in emulator.ledger.rooms if r.created_by == "daily"]
        assert made, "no room was made: nothing was tested"
        assert undeleted_rooms(emulator) == [], "a Daily room was left"
        assert emulator.ledger.runs == []


def test_a_refused_key_while_rooms_are_being_made_leaves_no_room(tmp_path: Path) -> None:
    slow = Fault("daily.create_room", latency=1.0, nth=frozenset({3, 4}))
    path = write(tmp_path, suite(scenarios(30, 31, 32, 33), repeat=1, rooms={"lab": DAILY}))
    with Emulator(config(faults=(slow,))) as emulator:
        env = environment(emulator, CEKURA_API_KEY="not-the-key")
        done = cli(run_args(path, "--concurrency 4 --batch-size 2"), tmp_path, env)
        assert done.code == 3, done
        wait_until("the slow creations applied", lambda: len(emulator.ledger.rooms) == 4)
        assert undeleted_rooms(emulator) == [], "a Daily room was left"


# -- 8. The configuration is checked before anything is made


@pytest.mark.parametrize("problem", ["plain http to a remote host", "a missing room secret"])
def test_a_bad_configuration_exits_2_and_makes_nothing(tmp_path: Path, problem: str) -> None:
    with Emulator(config()) as emulator:
        if problem == "a missing room secret":
            room = {"source": "daily", "api_key": "{{ env.EDGES_DAILY_KEY }}"}
            env, named = environment(emulator), "EDGES_DAILY_KEY"
        else:
            room = DAILY
            named = "CEKURA_API_URL"
            env = environment(emulator, CEKURA_API_URL="http://cekura.example.com")
        path = write(tmp_path, suite(scenarios(30), repeat=1, rooms={"lab": room}))
        done = cli(run_args(path), tmp_path, env)
        assert done.code == 2, done
        assert named in done.err, done
        assert emulator.ledger.requests == []
    assert not (tmp_path / ".specrunner" / "runs").exists()
