"""`specrunner run --dry-run`: what each run would send, the counts and the most call time,
and the secrets the run reads (set or not, never their values); no verdict, nothing leased,
sent or written; exit 2 naming a secret that is not set, 0 when everything would be sent."""

from __future__ import annotations

import json
import re
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import specrunner
from conftest import REPO, write_suite
from specrunner.app.dry_run import EMULATOR_SUPPLIES
from specrunner.cli import main
from specrunner.emulator import Emulator, EmulatorConfig
from specrunner.errors import UsageError
from specrunner.models import Outcome
from specrunner.wrapping import json_line

CEKURA_KEY = "cekura-key-canary-7f3a"
LAB_KEY = "pk-lab-canary-91bd"
SUITE = """
    version: 1
    name: dry
    agent: 412
    rooms:
      cloud:
        source: pipecat_cloud
        agent_name: checkout-bot
        api_key: "{{ env.LAB_KEY }}"
        max_sessions: 4
      lab: {source: static, url: "https://acme.daily.co/lab"}
    defaults:
      room: cloud
      publish_data_message: {run_key: "{{ run.key }}", attempt: "{{ run.repeat }}"}
    scenarios:
      - id: 30
        name: order
        repeat: 2
        timeout: 10m
        matrix: {locale: [en-US]}
        publish_data_message: {locale: "{{ matrix.locale }}"}
        expect: {min_passes: 1}
      - id: 31
        name: faq
        room: lab
        timeout: 90s
"""
VERDICT_WORDS = ("PASSED", "FAILED", "passed", "failed", "not_run", "not run", "cells met")


@pytest.fixture
def suite(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> Iterator[str]:
    clean_environ.chdir(tmp_path)
    write_suite(tmp_path, SUITE, "dry.yaml")
    yield "dry.yaml"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dry.yaml"]  # nothing written


def dry_run(*args: str, **env: str) -> Result:
    return CliRunner().invoke(main, ["run", *args, "--dry-run"], env=env, catch_exceptions=False)


def run_blocks(text: str) -> dict[str, tuple[str, Any]]:
    """Each run's heading (its fields) and its payload, read back from the dry run."""
    blocks: dict[str, tuple[str, Any]] = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = re.match(r"^ {2,4}([0-9a-f]{16})  (.*)$", line)
        if not found:
            continue
        heading = found.group(2)
        payload = []
        indent = len(line) - len(line.lstrip()) + 2
        for below in lines[index + 1 :]:
            if not below.startswith(" " * indent) or re.match(r"^ +[0-9a-f]{16}  ", below):
                break
            payload.append(below.strip())
        fields_end = next(i for i, part in enumerate(payload) if part.startswith("{"))
        heading = "  ".join([heading, *payload[:fields_end]])  # broken between fields
        blocks[found.group(1)] = (heading, json.loads(" ".join(payload[fields_end:])))
    return blocks


def test_a_secret_not_set_is_exit_2_naming_it_after_the_listing(suite: str) -> None:
    result = dry_run(suite, CEKURA_API_KEY=CEKURA_KEY)
    assert result.exit_code == 2
    assert result.stderr == (
        "specrunner: error: LAB_KEY is not set (room cloud reads it): export it first\n"
    )
    assert "  CEKURA_API_KEY  set      read by the Cekura client" in result.stdout
    assert "  LAB_KEY         not set  read by room cloud" in result.stdout
    assert "Not ready: a secret above is not set." in result.stdout
    assert CEKURA_KEY not in result.output
    assert not any(word in result.output for word in VERDICT_WORDS)


def test_several_secrets_not_set_are_one_error_naming_each(suite: str) -> None:
    result = dry_run(suite)
    assert result.exit_code == 2
    assert result.stderr == (
        "specrunner: error: 2 secrets are not set: export CEKURA_API_KEY and LAB_KEY first\n"
    )


def test_only_the_api_key_not_set_suggests_the_emulator(suite: str) -> None:
    result = dry_run(suite, LAB_KEY=LAB_KEY)
    assert result.exit_code == 2
    assert result.stderr == (
        "specrunner: error: CEKURA_API_KEY is not set (the Cekura client reads it): "
        "export it first, or try the suite with --emulator\n"
    )
    assert LAB_KEY not in result.output


def test_with_every_secret_set_it_is_ready_exit_0_and_says_no_verdict(suite: str) -> None:
    result = dry_run(suite, CEKURA_API_KEY=CEKURA_KEY, LAB_KEY=LAB_KEY)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == "Dry run of dry (dry.yaml), agent 412: nothing is leased or sent."
    assert lines[1] == "3 runs in 2 cells of 2 scenarios, at most 10 at once."
    assert lines[2] == (
        "Calls: at most 3, taking at most 21m30s in all (the sum of their timeouts; most "
        "calls end sooner)."
    )
    assert lines[-1] == "Ready: without --dry-run, this sends 3 runs."
    for secret in (CEKURA_KEY, LAB_KEY):
        assert secret not in result.output
    assert not any(word in result.output for word in VERDICT_WORDS)


def test_each_run_shows_its_room_source_timeout_expect_rule_and_payload(suite: str) -> None:
    result = dry_run(suite, CEKURA_API_KEY=CEKURA_KEY, LAB_KEY=LAB_KEY)
    plan = json.loads(CliRunner().invoke(main, ["plan", suite, "--format", "json"]).stdout)
    blocks = run_blocks(result.stdout)
    assert set(blocks) == {run["key"] for run in plan["runs"]}
    for run in plan["runs"]:
        heading, payload = blocks[run["key"]]
        assert payload == run["publish_data_message"]
        if run["scenario"] == "order":
            assert heading == (
                f"repeat {run['repeat']}  room cloud (pipecat_cloud)  timeout 10m  "
                "expect min_passes 1"
            )
        else:
            assert heading == "repeat 1  room lab (static)  timeout 1m30s  expect pass_rate 1"
    assert "  cell locale=en-US\n" in result.stdout
    assert (
        "  cloud: pipecat_cloud, a new Pipecat Cloud session per run, at most 4 at once; 2 runs"
        in result.stdout
    )


def test_a_selection_of_no_runs_sends_nothing_and_needs_only_the_key(suite: str) -> None:
    result = dry_run(suite, "--shard", "40/40", CEKURA_API_KEY=CEKURA_KEY)
    assert result.exit_code == 0, result.output
    assert "0 runs (of 3 in the suite) in 0 cells of 0 scenarios" in result.stdout
    assert "Rooms (none is leased by a dry run)\n  none: no run is selected\n" in result.stdout
    assert "LAB_KEY" not in result.stdout  # no run uses the room that reads it
    assert result.stdout.endswith("Ready: without --dry-run, this sends 0 runs.\n")


def test_payloads_wrap_to_the_width_and_wide_keeps_them_on_one_line(suite: str) -> None:
    env = {"CEKURA_API_KEY": CEKURA_KEY, "LAB_KEY": LAB_KEY, "COLUMNS": "60"}
    narrow = dry_run(suite, **env)
    wide = dry_run(suite, "--wide", **env)
    assert narrow.exit_code == wide.exit_code == 0
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 60
    assert max(len(line) for line in wide.stdout.splitlines()) > 60
    assert run_blocks(narrow.stdout) == run_blocks(wide.stdout)
    shown = {line.strip() for line in wide.stdout.splitlines()}
    for _, payload in run_blocks(wide.stdout).values():
        assert json_line(payload) in shown  # one line, whole


def test_secrets_of_the_suite_are_listed_and_masked(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        SUITE.replace(
            "      - id: 31\n",
            "      - id: 32\n"
            "        name: vip\n"
            "        room: lab\n"
            "        publish_data_message:\n"
            "          token: '{{ env.HOTEL_TOKEN }}'\n"
            '          tier: \'{{ env.get("VIP_TIER", "gold") }}\'\n'
            "      - id: 31\n",
        ),
        "dry.yaml",
    )
    result = dry_run(
        "dry.yaml", CEKURA_API_KEY=CEKURA_KEY, LAB_KEY=LAB_KEY, HOTEL_TOKEN="hotel-token-canary"
    )
    assert result.exit_code == 0, result.output
    assert "  HOTEL_TOKEN     set                read by the suite" in result.stdout
    assert "  VIP_TIER        not set, optional  read by the suite" in result.stdout
    assert '"token": "***"' in result.stdout
    assert "hotel-token-canary" not in result.output


def test_an_optional_room_secret_not_set_is_no_error(
    tmp_path: Path, clean_environ: pytest.MonkeyPatch
) -> None:
    clean_environ.chdir(tmp_path)
    write_suite(
        tmp_path,
        SUITE.replace(
            'url: "https://acme.daily.co/lab"}',
            "url: \"https://acme.daily.co/lab\", token: \"{{ env.get('LAB_TOKEN', '') }}\"}",
        ),
        "dry.yaml",
    )
    result = dry_run("dry.yaml", CEKURA_API_KEY=CEKURA_KEY, LAB_KEY=LAB_KEY)
    assert result.exit_code == 0, result.output
    assert "  LAB_TOKEN       not set, optional  read by room lab" in result.stdout


def test_with_the_emulator_its_keys_need_not_be_set(suite: str) -> None:
    result = dry_run(suite, "--emulator", LAB_KEY=LAB_KEY)
    assert result.exit_code == 0, result.output
    assert "  CEKURA_API_KEY  from the emulator  read by the Cekura client" in result.stdout
    assert "  LAB_KEY         set                read by room cloud" in result.stdout
    # A name the emulator does not supply is still needed from the environment.
    refused = dry_run(suite, "--emulator")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "specrunner: error: LAB_KEY is not set (room cloud reads it): export it first\n"
    )


def test_the_emulators_keys_are_those_it_supplies() -> None:
    with Emulator(EmulatorConfig()) as served:
        supplied = {k for k in served.environment() if not k.endswith(("_URL", "_HOST"))}
    assert supplied | {"BOT_START_URL"} == EMULATOR_SUPPLIES


def test_a_dry_run_makes_no_connection(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.chdir(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        write_suite(
            tmp_path,
            SUITE.replace(
                "        max_sessions: 4\n",
                f"        max_sessions: 4\n        api_url: http://127.0.0.1:{port}\n",
            ),
            "dry.yaml",
        )
        result = dry_run(
            "dry.yaml",
            CEKURA_API_KEY=CEKURA_KEY,
            LAB_KEY=LAB_KEY,
            CEKURA_API_URL=f"http://127.0.0.1:{port}",
        )
        assert result.exit_code == 0, result.output
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()
    assert [p.name for p in tmp_path.iterdir()] == ["dry.yaml"]


def test_a_configuration_the_run_would_refuse_is_refused(suite: str) -> None:
    result = dry_run(
        suite,
        CEKURA_API_KEY=CEKURA_KEY,
        LAB_KEY=LAB_KEY,
        CEKURA_API_URL="http://cekura.example.com",
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("specrunner: error: CEKURA_API_URL ")
    assert CEKURA_KEY not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-o", "out.json"],
            "specrunner: error: --dry-run writes no report, since nothing runs: drop -o "
            "(`specrunner plan SUITE --format json` prints the plan as JSON)\n",
        ),
        (["--concurrency", "0"], None),
    ],
)
def test_options_a_dry_run_refuses(suite: str, args: list[str], message: str | None) -> None:
    result = dry_run(suite, *args, CEKURA_API_KEY=CEKURA_KEY, LAB_KEY=LAB_KEY)
    assert result.exit_code == 2
    assert result.stdout == ""
    if message is not None:
        assert result.stderr == message


def test_resume_does_not_take_a_dry_run(tmp_path: Path, clean_environ: pytest.MonkeyPatch) -> None:
    clean_environ.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--resume", str(tmp_path), "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr == (
        "specrunner: error: --dry-run shows what a suite would send: it does not go with --resume\n"
    )


def test_wide_goes_with_a_dry_run_only(suite: str) -> None:
    result = CliRunner().invoke(main, ["run", suite, "--wide"])
    assert result.exit_code == 2
    assert "--wide lays out the output of --dry-run: give it with --dry-run" in result.stderr


def test_from_python_a_dry_run_checks_the_secrets_and_returns_runs_not_run(
    suite: str,
) -> None:
    with pytest.raises(UsageError, match=r"^LAB_KEY is not set \(room cloud reads it\)"):
        specrunner.run(suite, dry_run=True, environ={"CEKURA_API_KEY": CEKURA_KEY})
    result = specrunner.run(
        suite, dry_run=True, environ={"CEKURA_API_KEY": CEKURA_KEY, "LAB_KEY": LAB_KEY}
    )
    assert result.exit_code == 0 and result.run_dir is None
    assert {record.outcome for record in result.records} == {Outcome.NOT_RUN}
    assert len(result.records) == 3


def test_the_dry_run_example_in_the_docs_is_what_the_command_prints(
    clean_environ: pytest.MonkeyPatch,
) -> None:
    clean_environ.chdir(REPO)
    doc = (REPO / "docs" / "running.md").read_text(encoding="utf-8")
    block = re.search(
        r"```console\n\$ export CEKURA_API_KEY=\.\.\.[^\n]*\n\$ (specrunner run [^\n]*--dry-run)\n"
        r"(.*?)\n```",
        doc,
        flags=re.S,
    )
    assert block is not None
    args = shlex.split(block.group(1))[1:]
    result = CliRunner().invoke(main, args, env={"CEKURA_API_KEY": CEKURA_KEY})
    assert result.exit_code == 2
    assert result.output.rstrip("\n") == block.group(2)
