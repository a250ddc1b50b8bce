"""A suite's history read back: pooled pass rates, verdicts per run, and the cells that
flip (flaky across runs) or changed once; as text and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from historykit import at, record_all, report

from specrunner.history.store import open_history
from specrunner.history.trends import SuiteHistory, suite_history
from specrunner.history.view import history_json, history_text
from specrunner.report.records import OutcomeName

P: list[OutcomeName] = ["passed", "passed"]
F: list[OutcomeName] = ["passed", "failed"]

# Oldest first. Cell 0 always met; cell 1 met, not met, met, not met (flaky across runs);
# cell 2 regressed once; cell 3 is only in the two latest runs.
RUNS = [
    [P, P, P],
    [P, F, P],
    [P, P, F],
    [P, F, F, P],
]


def history(tmp_path: Path, last: int = 10) -> SuiteHistory:
    with open_history(tmp_path / "h.sqlite") as store:
        record_all(
            store,
            [
                report(cells, finished_at=at(i), commit=f"{i:x}" * 40)
                for i, cells in enumerate(RUNS)
            ],
        )
        return suite_history(store, "made", None, last=last)


def test_each_cell_over_the_window_most_recent_first(tmp_path: Path) -> None:
    found = history(tmp_path)
    assert [r.entry.finished_at for r in found.reports] == [at(3), at(2), at(1), at(0)]
    steady, flipping, regressed, new = found.cells
    # The latest report's cells first.
    assert [c.cell for c in found.cells] == [
        "scenario-0000 [n=0]",
        "scenario-0000 [n=1]",
        "scenario-0000 [n=2]",
        "scenario-0000 [n=3]",
    ]
    assert (steady.pass_rate, steady.met, steady.flips) == (1.0, 4, 0)
    assert [p.met if p else None for p in flipping.points] == [False, True, False, True]
    assert flipping.flips == 3 and flipping.flaky_across_runs
    assert flipping.runs == 8 and flipping.passes == 6
    assert regressed.flips == 1 and not regressed.flaky_across_runs
    assert [p is None for p in new.points] == [False, True, True, True]
    assert found.flaky_across_runs == (flipping,)
    assert found.changed == (regressed,)


def test_a_shorter_window_sees_fewer_flips(tmp_path: Path) -> None:
    found = history(tmp_path, last=2)
    flipping = found.cells[1]
    assert len(found.reports) == 2 and flipping.flips == 1 and not flipping.flaky_across_runs


def test_the_text_shows_runs_cells_and_what_flipped(tmp_path: Path) -> None:
    text = history_text(history(tmp_path), recorded=4)
    assert text.startswith("made (no environment): the last 4 runs of 4 recorded")
    lines = text.splitlines()
    assert "  2026-01-02 00:03:00 UTC  333333333333  FAILED         2/4        75%     8" in lines
    assert "  scenario-0000 [n=1]        75%  2/4  ✗✓✗✓  flaky across runs" in lines
    assert "  scenario-0000 [n=3]       100%  1/1  ✓···" in lines
    assert "flaky across runs (met and not met in turn): 1 cell" in lines
    assert "  scenario-0000 [n=1]: 3 changes of verdict in 4 runs" in lines
    assert (
        "  scenario-0000 [n=2]: not met since the run finished 2026-01-02 00:02:00 UTC, "
        "commit 222222222222" in lines
    )


def test_the_json_has_every_run_and_each_cells_verdict_per_run(tmp_path: Path) -> None:
    found = history(tmp_path)
    data = json.loads(history_json(found, recorded=4))
    assert data["suite"] == "made" and data["recorded"] == 4
    assert [r["finished_at"] for r in data["runs"]] == [at(3), at(2), at(1), at(0)]
    assert data["flaky_across_runs"] == ["scenario-0000 [n=1]"]
    cell = data["cells"][3]
    assert cell["per_run"][1:] == [None, None, None]
    assert cell["per_run"][0] == {"runs": 2, "passes": 2, "pass_rate": 1.0, "met": True}


def test_hostile_names_are_shown_escaped(tmp_path: Path) -> None:
    made = report([P], suite="evil\x1b[2J\u202e")
    made["cells"][0]["id"] = "cell\x1b]0;pwned\x07"
    with open_history(tmp_path / "h.sqlite") as store:
        record_all(store, [made])
        found = suite_history(store, made["suite"]["name"], None, last=5)
    text = history_text(found, recorded=1)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "cell\\x1b]0;pwned\\x07" in text
    assert "\u202e" not in history_json(found, recorded=1)
