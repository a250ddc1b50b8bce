"""What a plan may spend (issue 15): `plan` and the dry run say the calls and the most call
time; `run --max-runs N` refuses a plan of more runs, sending nothing; on a terminal, a run
that may spend much asks first.

The command-line tests run the real CLI in a subprocess against the emulator in-process
(replies in any order), on a pseudo-terminal where a terminal is the point. Every read
and wait is bounded in time, every subprocess has a timeout, and only 127.0.0.1 is used.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pytest
import yaml
from click.testing import CliRunner

from conftest import compile_dict
from specrunner.app import confirming, run_dir
from specrunner.app.confirming import ASK_ABOVE_CALL_TIME, ASK_ABOVE_CALLS, confirm, question
from specrunner.app.planning import PlanRequest, plan
from specrunner.asking import terminal_question
from specrunner.cli import main
from specrunner.emulator import Behaviour, Emulator, EmulatorConfig
from specrunner.errors import NotConfirmed, UsageError
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.spend import Spend

PIPECAT = {
    "source": "pipecat_cloud",
    "agent_name": "bot",
    "api_key": "{{ env.PIPECAT_CLOUD_API_KEY }}",
}
PROMPT = b"[y/N] "


def suite(repeat: int, timeout: str, *, scenarios: int = 2) -> dict[str, Any]:
    """`scenarios` scenarios (ids 30...), each run `repeat` times with `timeout`."""
    return {
        "version": 1,
        "name": "spend",
        "rooms": {"bot": PIPECAT},
        "defaults": {"repeat": repeat, "timeout": timeout},
        "scenarios": [{"id": 30 + i, "name": f"s{i}", "tags": [f"t{i}"]} for i in range(scenarios)],
    }


# -- counting, and the bound on call time


def test_the_calls_are_the_runs_and_the_call_time_the_sum_of_their_timeouts() -> None:
    planned = compile_dict(
        {
            **suite(3, "10m"),
            "scenarios": [
                {"id": 30, "name": "a"},
                {"id": 31, "name": "b", "timeout": "1h30m", "matrix": {"n": [1, 2]}},
            ],
        }
    )
    spend = Spend.of(planned.runs)
    assert (spend.calls, spend.call_seconds) == (9, 3 * 600 + 6 * 5400)
    assert spend.call_time == "9h30m"
    assert Spend.of([]) == Spend(0, 0.0)
    assert spend.sentence() == (
        "Calls: at most 9, taking at most 9h30m in all (the sum of their timeouts; most "
        "calls end sooner)."
    )


def test_a_selection_spends_only_its_runs() -> None:
    planned = compile_dict(suite(4, "20m"), tags=("t1",))
    assert Spend.of(planned.runs) == Spend(4, 4 * 1200.0)


# -- the question: when, and in which words


def spend_of(calls: int, seconds: float) -> Spend:
    return Spend(calls, seconds)


@pytest.mark.parametrize(
    ("calls", "seconds", "asks"),
    [
        (ASK_ABOVE_CALLS, ASK_ABOVE_CALL_TIME, False),
        (ASK_ABOVE_CALLS + 1, 60.0, True),
        (2, ASK_ABOVE_CALL_TIME + 1, True),
        (0, 0.0, False),
    ],
)
def test_it_asks_above_100_calls_or_50_hours(calls: int, seconds: float, asks: bool) -> None:
    assert (ASK_ABOVE_CALLS, ASK_ABOVE_CALL_TIME) == (100, 50 * 3600)
    assert confirming.needs_asking(spend_of(calls, seconds)) is asks


def test_the_question_names_the_calls_and_the_bound() -> None:
    assert question(Spend(240, 120 * 3600.0)) == (
        "This run may make 240 calls, taking up to 120h of call time (the sum of their "
        "timeouts).\nSend them?"
    )
    assert question(Spend(1, 600.0)).startswith("This run may make 1 call, taking up to 10m ")
    assert question(Spend(150, 75 * 3600.0), planned=1200) == (
        "This run may still make 150 of its 1,200 planned calls, taking up to 75h of call "
        "time (the sum of their timeouts).\nSend them?"
    )


class FakeAsk:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, question: str) -> bool:
        self.asked.append(question)
        return self.answer


def test_confirm_asks_only_above_the_thresholds_and_refuses_a_no() -> None:
    big = compile_dict(suite(51, "1m"))  # 102 calls
    small = compile_dict(suite(50, "1m"))  # 100 calls
    never = FakeAsk(False)
    confirm(small.runs, never)
    confirm(big.runs, None)  # no one to ask: go ahead
    assert never.asked == []
    with pytest.raises(NotConfirmed) as caught:
        confirm(big.runs, never)
    assert str(caught.value) == "not confirmed: nothing was sent (--yes sends without asking)"
    assert caught.value.exit_code == 130
    assert never.asked == [question(Spend(102, 102 * 60.0))]
    yes = FakeAsk(True)
    confirm(big.runs, yes)
    assert len(yes.asked) == 1


def test_what_would_stop_the_run_anyway_stops_it_before_the_question() -> None:
    big = compile_dict(suite(51, "1m"))
    ask = FakeAsk(True)

    def broken() -> None:
        raise UsageError("a room source cannot work")

    with pytest.raises(UsageError):
        confirm(big.runs, ask, ready=broken)
    assert ask.asked == []


def test_a_resumed_run_counts_the_runs_it_never_sent(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite(3, "10m")))
    request = PlanRequest(str(path))
    planned = plan(request, environ={"PIPECAT_CLOUD_API_KEY": "pk"})
    made = run_dir.create(tmp_path, request, planned, "2026-01-01T00:00:00Z")
    keys = [run.key for run in planned.runs]
    journal = Journal(made / JOURNAL)
    journal.write("intent", batch=1, keys=keys[:2])
    journal.write("submitted", batch=1, result_id=7, runs={keys[0]: 70, keys[1]: 71})
    journal.write("intent", batch=2, keys=keys[2:4])  # cut off: may have been sent
    journal.write("intent", batch=3, keys=keys[4:5])
    journal.write("not_sent", batch=3, reason="refused before it was sent")  # sent on resume
    journal.close()
    assert run_dir.resume(str(made)).unsent == frozenset([keys[4], keys[5]])


# -- plan and the dry run say it


def test_plan_text_and_json_show_the_calls_and_the_call_time_bound(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite(3, "1h")))
    env = {"PIPECAT_CLOUD_API_KEY": "pk-test"}
    text = CliRunner().invoke(main, ["plan", str(path), "--tag", "t0"], env=env)
    assert text.exit_code == 0, text.output
    assert text.output.splitlines()[1:3] == [
        "3 runs (of 6 in the suite) in 1 cell of 1 scenario",
        "Calls: at most 3, taking at most 3h in all (the sum of their timeouts; most calls "
        "end sooner).",
    ]
    shown = CliRunner().invoke(main, ["plan", str(path), "--format", "json"], env=env)
    summary = json.loads(shown.output)["summary"]
    assert (summary["calls"], summary["call_time_max_seconds"]) == (6, 6 * 3600.0)
    assert summary["runs"] == summary["calls"]


def test_the_dry_run_says_what_plan_says(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite(2, "45m")))
    env = {"PIPECAT_CLOUD_API_KEY": "pk-test", "CEKURA_API_KEY": "ck-test"}
    dry = CliRunner().invoke(main, ["run", str(path), "--dry-run"], env=env)
    planned = CliRunner().invoke(main, ["plan", str(path)], env=env)
    assert dry.exit_code == planned.exit_code == 0, dry.output + planned.output
    calls = [line for line in planned.output.splitlines() if line.startswith("Calls:")]
    assert calls == [
        "Calls: at most 4, taking at most 3h in all (the sum of their timeouts; "
        "most calls end sooner)."
    ]
    assert calls[0] in dry.output.splitlines()


def test_the_help_of_yes_says_the_thresholds() -> None:
    shown = CliRunner().invoke(main, ["run", "--help"], terminal_width=200).output
    assert f"more than {ASK_ABOVE_CALLS} calls" in " ".join(shown.split())
    assert f"or {ASK_ABOVE_CALL_TIME / 3600:.0f} hours of call time" in " ".join(shown.split())


# -- the question on a terminal, in-process


@dataclass
class PseudoTerminal:
    leader: int
    """What the user types goes in here, what is shown comes out."""
    stdin: TextIO
    shown: TextIO


@pytest.fixture
def pseudo_terminal() -> Iterator[PseudoTerminal]:
    import pty

    leader, follower = pty.openpty()
    with (
        os.fdopen(follower, "r", encoding="utf-8") as stdin,
        os.fdopen(os.dup(follower), "w", encoding="utf-8") as shown,
    ):
        try:
            yield PseudoTerminal(leader, stdin, shown)
        finally:
            os.close(leader)


def test_no_question_without_a_terminal_on_both_sides(pseudo_terminal: PseudoTerminal) -> None:
    terminal = pseudo_terminal
    assert terminal_question(io.StringIO(), terminal.shown) is None
    assert terminal_question(terminal.stdin, io.StringIO()) is None
    assert terminal_question(terminal.stdin, terminal.shown) is not None


@pytest.mark.parametrize(
    ("typed", "answer"),
    [
        (b"y\n", True),
        (b"YES\n", True),
        (b" yes \n", True),
        (b"n\n", False),
        (b"\n", False),
        (b"yep\n", False),
        (b"\x04", False),
    ],
)
def test_only_y_or_yes_is_yes(pseudo_terminal: PseudoTerminal, typed: bytes, answer: bool) -> None:
    terminal = pseudo_terminal
    ask = terminal_question(terminal.stdin, terminal.shown)
    assert ask is not None
    os.write(terminal.leader, typed)
    assert ask("Send them?") is answer
    shown = b""  # the echo of `typed`, and the question
    for _ in range(50):
        if b"Send them? [y/N] " in shown or not select.select([terminal.leader], [], [], 0.1)[0]:
            break
        shown += os.read(terminal.leader, 4096)
    assert b"Send them? [y/N] " in shown


# -- the real CLI against the emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    config = EmulatorConfig(
        queue_seconds=0.02,
        evaluation_seconds=0.02,
        defaults=Behaviour(duration=(0.1, 0.1), pass_probability=1.0),
        reply_order="shuffled",  # the real API promises no order
    )
    with Emulator(config) as served:
        yield served


def environment(emulator: Emulator) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CEKURA", "PIPECAT", "DAILY", "SPECRUNNER", "GITHUB"))
    }
    env.update(emulator.environment())
    return env


def requests_seen(emulator: Emulator) -> int:
    """Every request the emulator had: Cekura's and the room source's."""
    return emulator.ledger.totals()["requests"]


def runs_made(emulator: Emulator) -> int:
    return emulator.ledger.totals()["runs"]


def write(cwd: Path, data: dict[str, Any]) -> str:
    (cwd / "suite.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return "suite.yaml"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "specrunner", *args, "--poll-interval", "0.1"]


def piped(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI with stdin, stdout and stderr piped (no terminal), as in CI."""
    return subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_max_runs_refuses_a_larger_plan_and_sends_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    name = write(tmp_path, suite(3, "2m"))  # 6 runs
    done = piped(command("run", name, "--max-runs", "5"), tmp_path, environment(emulator))
    assert done.returncode == 2, done
    assert done.stderr.splitlines()[0] == (
        "suite.yaml:9:3: with this scenario, the suite plans 6 runs (cells x repeat, all "
        "scenarios), more than the 5 --max-runs allows: narrow the selection (--tag, "
        "--scenario, --shard) or raise --max-runs"
    )
    assert requests_seen(emulator) == 0
    assert not (tmp_path / ".specrunner").exists()


def test_max_runs_counts_what_this_invocation_sends(tmp_path: Path, emulator: Emulator) -> None:
    name = write(tmp_path, suite(3, "2m"))  # 6 runs, 3 of them tagged t1
    done = piped(
        command("run", name, "--tag", "t1", "--max-runs", "3"), tmp_path, environment(emulator)
    )
    assert done.returncode == 0, done
    assert runs_made(emulator) == 3


def test_a_shard_over_max_runs_is_refused_and_sends_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    # 8 runs in 2 shards of 3 and 5: 8 is not over 2 x 4, the shard of 5 is over 4.
    name = write(tmp_path, suite(8, "2m", scenarios=1))
    sizes = {
        i: len(
            plan(
                PlanRequest(str(tmp_path / name), shard=f"{i}/2"),
                environ={"PIPECAT_CLOUD_API_KEY": "pk"},
            ).runs
        )
        for i in (1, 2)
    }
    index = max(sizes, key=lambda i: sizes[i])
    assert sizes[index] == 5
    done = piped(
        command("run", name, "--shard", f"{index}/2", "--max-runs", str(sizes[index] - 1)),
        tmp_path,
        environment(emulator),
    )
    assert done.returncode == 2, done
    assert f"--shard {index}/2 plans {sizes[index]} runs, more than the" in done.stderr
    assert requests_seen(emulator) == 0
    assert not (tmp_path / ".specrunner").exists()


# -- the question on a terminal

BIG = suite(1, "26h")
"""Two calls of up to 26 hours: 52 hours of call time at most, above the 50 that ask."""


class Terminal:
    """The CLI on a pseudo-terminal: stdin, stdout and stderr are its one terminal."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        import pty

        self.master, follower = pty.openpty()
        self.output = b""
        try:
            self.process = subprocess.Popen(
                args,
                cwd=cwd,
                env={**env, "TERM": "xterm", "COLUMNS": "100"},
                stdin=follower,
                stdout=follower,
                stderr=follower,
                start_new_session=True,
            )
        finally:
            os.close(follower)

    def read_until(self, wanted: bytes, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        for _ in range(int(limit / 0.05) + 1):
            if wanted in self.output or time.monotonic() > deadline:
                break
            if not self._read(0.05):
                break
        assert wanted in self.output, f"never {wanted!r} within {limit} s:\n{self.text}"

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def finish(self, limit: float = 60.0) -> int:
        deadline = time.monotonic() + limit
        for _ in range(int(limit / 0.05) + 1):
            if time.monotonic() > deadline or not self._read(0.05):
                break
        try:
            code = self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(f"no exit within {limit} s:\n{self.text}") from None
        finally:
            os.close(self.master)
        return code

    def _read(self, wait: float) -> bool:
        """Read what is there; False once the terminal is closed (the process ended)."""
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: no process holds the terminal any more
            return False
        self.output += chunk
        return bool(chunk)

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace").replace("\r\n", "\n")


def on_terminal(tmp_path: Path, emulator: Emulator, *options: str) -> Terminal:
    name = write(tmp_path, BIG)
    return Terminal(command("run", name, *options), tmp_path, environment(emulator))


QUESTION = (
    "This run may make 2 calls, taking up to 52h of call time (the sum of their timeouts).\n"
    "Send them? [y/N] "
)


@pytest.mark.parametrize("answer", [b"n\n", b"\n", b"whatever\n"], ids=["no", "enter", "other"])
def test_on_a_terminal_anything_but_yes_sends_nothing_and_exits_130(
    tmp_path: Path, emulator: Emulator, answer: bytes
) -> None:
    terminal = on_terminal(tmp_path, emulator)
    terminal.read_until(PROMPT)
    assert QUESTION in terminal.text  # (a terminal wraps it on screen, not in the bytes)
    terminal.send(answer)
    assert terminal.finish() == 130, terminal.text
    assert "specrunner: not confirmed: nothing was sent (--yes sends without asking)" in (
        terminal.text
    )
    assert requests_seen(emulator) == 0
    assert not (tmp_path / ".specrunner").exists()


def test_on_a_terminal_yes_sends_the_runs(tmp_path: Path, emulator: Emulator) -> None:
    terminal = on_terminal(tmp_path, emulator)
    terminal.read_until(PROMPT)
    assert requests_seen(emulator) == 0  # nothing before the answer
    terminal.send(b"y\n")
    assert terminal.finish() == 0, terminal.text
    assert "2 runs: 2 passed" in terminal.text
    assert runs_made(emulator) == 2


def test_end_of_input_at_the_question_sends_nothing(tmp_path: Path, emulator: Emulator) -> None:
    terminal = on_terminal(tmp_path, emulator)
    terminal.read_until(PROMPT)
    terminal.send(b"\x04")  # Ctrl-D on an empty line: end of input
    assert terminal.finish() == 130, terminal.text
    assert "not confirmed: nothing was sent" in terminal.text
    assert requests_seen(emulator) == 0
    assert not (tmp_path / ".specrunner").exists()


def test_ctrl_c_at_the_question_sends_nothing(tmp_path: Path, emulator: Emulator) -> None:
    terminal = on_terminal(tmp_path, emulator)
    terminal.read_until(PROMPT)
    # What the terminal does on Ctrl-C (the child has no controlling terminal to send it).
    os.kill(terminal.process.pid, signal.SIGINT)
    assert terminal.finish() == 130, terminal.text
    assert terminal.text.endswith("[y/N] \nspecrunner: interrupted\n")
    assert requests_seen(emulator) == 0
    assert not (tmp_path / ".specrunner").exists()


@pytest.mark.parametrize("option", ["--yes", "-y"])
def test_yes_sends_without_asking(tmp_path: Path, emulator: Emulator, option: str) -> None:
    terminal = on_terminal(tmp_path, emulator, option)
    assert terminal.finish() == 0, terminal.text
    assert PROMPT not in terminal.output
    assert runs_made(emulator) == 2


def test_the_emulator_costs_nothing_and_never_asks(tmp_path: Path, emulator: Emulator) -> None:
    terminal = on_terminal(tmp_path, emulator, "--emulator")
    assert terminal.finish() == 0, terminal.text
    assert PROMPT not in terminal.output
    assert requests_seen(emulator) == 0  # (it ran in its own emulator)


def test_without_a_terminal_it_never_asks(tmp_path: Path, emulator: Emulator) -> None:
    name = write(tmp_path, BIG)
    done = piped(command("run", name), tmp_path, environment(emulator))
    assert done.returncode == 0, done
    assert "[y/N]" not in done.stdout + done.stderr
    assert runs_made(emulator) == 2


def test_a_small_plan_on_a_terminal_does_not_ask(tmp_path: Path, emulator: Emulator) -> None:
    name = write(tmp_path, suite(2, "2m"))
    terminal = Terminal(command("run", name), tmp_path, environment(emulator))
    assert terminal.finish() == 0, terminal.text
    assert PROMPT not in terminal.output
    assert runs_made(emulator) == 4
