"""A run's start-up: up to its first submission it imports what sending needs, and the
code of the reports, the history and the comparison only once its runs are done.

The real CLI runs in a subprocess against an emulator on a loopback port (answers in any
order, some submissions refused with 429), a probe noting which modules are loaded when
the first submission is made.
"""

from __future__ import annotations

from pathlib import Path

from test_baseline_e2e import SUITE

from conftest import minimal_env, probe
from specrunner.emulator import Emulator, EmulatorConfig
from specrunner.emulator.config import Behaviour, Fault

PROBE = """
import json, sys
import specrunner.cekura
from specrunner.cli import main

first: list[str] = []
submit = specrunner.cekura.CekuraClient.submit

async def noted(self, *args, **kwargs):
    if not first:
        first.extend(sorted(m for m in sys.modules if m.startswith("specrunner")))
    return await submit(self, *args, **kwargs)

specrunner.cekura.CekuraClient.submit = noted
try:
    main(sys.argv[1:], standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code
ended = sorted(m for m in sys.modules if m.startswith("specrunner"))
print(json.dumps({"first": first, "ended": ended, "code": code}))
"""

LATER = (
    "specrunner.app.comparing",
    "specrunner.app.dry_run",
    "specrunner.app.history",
    "specrunner.app.reports",
    "specrunner.history",
    "specrunner.report.console",
    "specrunner.report.html",
    "specrunner.report.junit",
    "specrunner.report.markdown",
)
"""Modules a run needs once its runs are done (or not at all), not to send them."""


def test_a_run_imports_the_report_code_once_its_runs_are_done(tmp_path: Path) -> None:
    (tmp_path / "suite.yaml").write_text(SUITE, encoding="utf-8")
    config = EmulatorConfig(
        seed=3,
        queue_seconds=0.01,
        evaluation_seconds=0.01,
        defaults=Behaviour(duration=(0.02, 0.05), pass_probability=1.0),  # type: ignore[arg-type]
        faults=(Fault("cekura.run", status=429, retry_after=0.05, rate=0.3),),
        reply_order="shuffled",  # type: ignore[arg-type]
    )
    with Emulator(config) as emulator:
        found = probe(
            PROBE,
            *("run", "suite.yaml", "--poll-interval", "0.05"),
            cwd=tmp_path,
            env={**minimal_env(), **emulator.environment()},
            timeout=120,
        )
        created = emulator.ledger.totals()["runs"]
    assert found["code"] == 0, found
    assert created == 30
    assert "specrunner.app.running" in found["first"]
    assert [m for m in found["first"] if m.startswith(LATER)] == []
    # The reports were written after all (with the code imported then).
    assert {"specrunner.app.reports", "specrunner.report.html"} <= set(found["ended"])
    assert list(tmp_path.glob(".specrunner/runs/*/results.json"))
