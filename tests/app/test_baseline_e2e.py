"""`run --baseline`, `merge --baseline` and `compare`, end to end: the real CLI against an
emulator on a loopback port that answers in any order and fails some requests (429 with
Retry-After on submissions, 503 on polls, slow polls), as a busy Cekura would.

A bad baseline is refused before anything is sent: the emulator's ledger shows no
request at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from jsonschema import Draft202012Validator

import specrunner
from specrunner.cli import main
from specrunner.emulator import Emulator, EmulatorConfig
from specrunner.emulator.config import Behaviour, Fault
from specrunner.errors import UsageError
from specrunner.schemas import load_schema

SUITE = """\
version: 1
name: checkout
rooms:
  bot: {source: pipecat_cloud, agent_name: bot, api_key: "{{ env.PIPECAT_CLOUD_API_KEY }}"}
defaults:
  repeat: 10
scenarios:
  - {id: 30, name: order, matrix: {locale: [en, es]}}
  - {id: 31, name: refund}
"""

# The least friendly realistic emulator: shuffled answers, refused and failed requests.
FAULTS = (
    Fault("cekura.run", status=429, retry_after=0.05, rate=0.2),
    Fault("cekura.bulk", status=503, rate=0.2),
    Fault("cekura.bulk", latency=0.02),
)
QUICK = {"duration": (0.05, 0.1), "pass_probability": 1.0}


def config(**scenarios: Behaviour) -> EmulatorConfig:
    return EmulatorConfig(
        seed=5,
        queue_seconds=0.01,
        evaluation_seconds=0.01,
        defaults=Behaviour(**QUICK),  # type: ignore[arg-type]
        scenarios={int(k.removeprefix("s")): v for k, v in scenarios.items()},
        faults=FAULTS,
        reply_order="shuffled",  # type: ignore[arg-type]
    )


ALL_PASS = config()
REFUND_FAILS = config(s31=Behaviour(duration=(0.05, 0.1), outcome="failed"))  # type: ignore[arg-type]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in ("CEKURA_API_KEY", "CEKURA_API_URL", "GITHUB_STEP_SUMMARY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@contextmanager
def serving(cfg: EmulatorConfig) -> Iterator[Emulator]:
    with Emulator(cfg) as emulator:
        yield emulator


def cli(emulator: Emulator | None, *args: str) -> Result:
    env: Mapping[str, str] = emulator.environment() if emulator is not None else {}
    return CliRunner().invoke(main, list(args), env=dict(env))


def run(cfg: EmulatorConfig, *args: str) -> Result:
    with serving(cfg) as emulator:
        result = cli(emulator, "run", "suite.yaml", "--poll-interval", "0.05", *args)
        created = emulator.ledger.totals()["runs"]
    if result.exit_code in (0, 1):
        assert created == 30, result.output  # each planned run was created once
    return result


def baseline(workdir: Path) -> Path:
    result = run(ALL_PASS, "-o", "base.json")
    assert result.exit_code == 0, result.output
    return workdir / "base.json"


def test_a_run_as_good_as_its_baseline_exits_0(workdir: Path) -> None:
    baseline(workdir)
    result = run(ALL_PASS, "--baseline", "base.json", "-o", "new.json")
    assert result.exit_code == 0, result.output
    assert "Against the baseline base.json" in result.output
    assert "0 regressed, 0 improved, 3 unchanged" in result.output
    report = json.loads((workdir / "new.json").read_text())
    assert report["comparison"]["summary"]["tested"] == 3


def test_a_regression_fails_the_run_and_every_view_says_so(workdir: Path) -> None:
    baseline(workdir)
    result = run(
        REFUND_FAILS,
        "--baseline",
        "base.json",
        "-o",
        "new.json",
        "-o",
        "new.md",
        "-o",
        "new.html",
    )
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("regressed") and "refund" in line for line in lines), lines
    report = json.loads((workdir / "new.json").read_text())
    Draft202012Validator(load_schema("report")).validate(report)
    by_id = {c["id"]: c for c in report["comparison"]["cells"]}
    assert by_id["refund"]["status"] == "regressed"
    assert by_id["refund"]["p_worse"] == pytest.approx(1 / 184756)
    assert by_id["order [locale=en]"]["status"] == "unchanged"
    assert "### Against the baseline base.json" in (workdir / "new.md").read_text()
    assert 'data-sort="change"' in (workdir / "new.html").read_text()
    # The saved report keeps the comparison: rendering it again exits 1 too.
    again = cli(None, "report", "new.json", "-o", "again.md")
    assert again.exit_code == 1, again.output
    # And `compare` finds the same.
    compared = cli(None, "compare", "base.json", "new.json", "-o", "diff.json", "-o", "diff.md")
    assert compared.exit_code == 1, compared.output
    assert compared.output.startswith("REGRESSED  checkout: 1 regressed, 0 improved, 2 unchanged")
    assert compared.output.splitlines()[-2:] == ["wrote diff.json", "wrote diff.md"]
    diff = json.loads((workdir / "diff.json").read_text())
    Draft202012Validator(load_schema("compare")).validate(diff)
    assert diff["cells"] == report["comparison"]["cells"]


def test_a_report_compared_with_itself_flags_nothing(workdir: Path) -> None:
    baseline(workdir)
    result = cli(None, "compare", "base.json", "base.json")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("NO REGRESSION  checkout: 0 regressed, 0 improved, 3 unchanged")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (None, "--baseline: nothing.json: no such file"),
        ("{", "--baseline: nothing.json: not JSON"),
        ('{"report_version": 1}', "--baseline: nothing.json: not a specrunner report"),
    ],
)
def test_an_unreadable_baseline_is_exit_2_and_nothing_is_sent(
    workdir: Path, make: str | None, message: str
) -> None:
    if make is not None:
        (workdir / "nothing.json").write_text(make)
    with serving(ALL_PASS) as emulator:
        result = cli(emulator, "run", "suite.yaml", "--baseline", "nothing.json")
        assert emulator.ledger.totals()["requests"] == 0
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"specrunner: error: {message}")
    assert not (workdir / ".specrunner").exists()


def test_a_baseline_of_another_suite_or_no_common_cell_is_exit_2_before_sending(
    workdir: Path,
) -> None:
    base = json.loads(baseline(workdir).read_text())
    other = {**base, "suite": {**base["suite"], "name": "billing"}}
    (workdir / "other.json").write_text(json.dumps(other))
    strange = {**base, "cells": [{**c, "scenario": "gone"} for c in base["cells"]]}
    (workdir / "strange.json").write_text(json.dumps(strange))
    with serving(ALL_PASS) as emulator:
        suite = cli(emulator, "run", "suite.yaml", "--baseline", "other.json")
        cells = cli(emulator, "run", "suite.yaml", "--baseline", "strange.json")
        dry = cli(emulator, "run", "suite.yaml", "--dry-run", "--baseline", "other.json")
        assert emulator.ledger.totals()["requests"] == 0
    assert suite.exit_code == 2
    assert (
        "--baseline: other.json is a report of suite 'billing' and this run of suite "
        "'checkout': compare two reports of one suite"
    ) in suite.output
    assert cells.exit_code == 2
    assert "strange.json and this run's plan have no cell in common" in cells.output
    assert dry.exit_code == 2 and "suite 'billing'" in dry.output


def test_shards_compare_after_the_merge(workdir: Path) -> None:
    baseline(workdir)
    refused = cli(None, "run", "suite.yaml", "--shard", "1/2", "--baseline", "base.json")
    assert refused.exit_code == 2
    assert "--baseline: a shard holds only some runs of its cells" in refused.output
    with serving(REFUND_FAILS) as emulator:
        for shard in (1, 2):
            part = cli(
                emulator, "run", "suite.yaml", "--poll-interval", "0.05", "--shard", f"{shard}/2",
                "-o", f"shard-{shard}.json",
            )  # fmt: skip
            assert part.exit_code in (0, 1), part.output
    alone = cli(None, "compare", "base.json", "shard-1.json")
    assert alone.exit_code == 2
    assert "compare: shard-1.json is the report of shard 1/2 alone" in alone.output
    merged = cli(
        None, "merge", "shard-1.json", "shard-2.json", "--baseline", "base.json",
        "-o", "merged.json",
    )  # fmt: skip
    assert merged.exit_code == 1, merged.output
    assert "Against the baseline base.json" in merged.output
    report = json.loads((workdir / "merged.json").read_text())
    assert report["comparison"]["summary"]["regressed"] == 1


def test_alpha_goes_with_a_baseline(workdir: Path) -> None:
    result = cli(None, "run", "suite.yaml", "--alpha", "0.01")
    assert result.exit_code == 2
    assert "--alpha is the level of the comparison with --baseline: give both" in result.output
    bad = cli(None, "compare", "a.json", "b.json", "--alpha", "0.7")
    assert bad.exit_code == 2 and "0<x<=0.5" in bad.output


def test_the_python_api_takes_a_baseline(workdir: Path) -> None:
    baseline(workdir)
    with serving(REFUND_FAILS) as emulator:
        result = specrunner.run(
            "suite.yaml", environ=emulator.environment(), poll_interval=0.05, baseline="base.json"
        )
    assert result.exit_code == 1
    comparison = result.report["comparison"]
    assert comparison["base"]["file"] == "base.json" and comparison["new"]["file"] is None
    assert [c["status"] for c in comparison["cells"]] == ["unchanged", "unchanged", "regressed"]
    with pytest.raises(UsageError, match="--alpha"):
        specrunner.run("suite.yaml", environ={}, alpha=0.7)
