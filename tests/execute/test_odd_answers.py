"""Poll answers whose Run objects hold fields of odd types never crash a run: an object
whose id is not an integer is skipped, one with a wrong field ends its own run as an error
naming the field, and the other runs carry on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from test_executor import FakeCekura, FakeSource, execute, plan

from specrunner.cekura import outcome_of, run_problem
from specrunner.execute.journal_records import JOURNAL
from specrunner.models import Outcome


class OddCekura(FakeCekura):
    """Answers each poll with odd objects beside the usual ones: ids that cannot be matched
    (a list, a boolean), and a wrong field in the objects of the runs in `odd`."""

    def __init__(self, odd: dict[int, dict[str, Any]]) -> None:
        super().__init__(polls_to_finish=2)
        self.odd = odd

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        found = await super().poll(run_ids)
        unmatched = [
            {"id": list(run_ids), "status": "completed", "success": False},
            {"id": True, "status": "failed", "error_message": "not this run"},
            {"id": {"run": run_ids[0]}, "status": []},
        ]
        return unmatched + [{**data, **self.odd.get(data["id"], {})} for data in found]


def test_a_run_with_an_odd_field_is_an_error_and_the_others_pass(tmp_path: Path) -> None:
    # one batch: runs 101, 102, 103 and 104, in the order of the plan
    cekura = OddCekura(
        {
            101: {"status": ["completed"]},
            102: {"status": "failed", "error_message": {"detail": "boom"}},
            103: {"success": "yes"},
        }
    )
    records, _ = execute(
        tmp_path, plan(4, {"a": None}, scenarios=4), cekura, {"a": FakeSource("a", None)}
    )
    by_id = {r.run_id: r for r in records}
    assert [by_id[i].outcome for i in (101, 102, 103, 104)] == [
        Outcome.ERROR,
        Outcome.ERROR,
        Outcome.ERROR,
        Outcome.PASSED,
    ]
    assert by_id[101].error == "Cekura's answer for run 101 has a wrong field: status is a list"
    assert by_id[102].error == (
        "Cekura's answer for run 102 has a wrong field: error_message is an object"
    )
    assert by_id[103].error == "Cekura's answer for run 103 has a wrong field: success is a string"
    assert by_id[104].error is None
    finals = {
        record["run_id"]: record
        for record in map(json.loads, (tmp_path / JOURNAL).read_text().splitlines())
        if record.get("type") == "final"
    }
    assert sorted(finals) == [101, 102, 103, 104]  # journaled as final: never polled again
    assert finals[101]["outcome"] == "error"
    assert finals[101]["error"] == by_id[101].error


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"id": 1, "status": "running"}, None),
        ({"id": 1, "status": "completed", "success": None, "error_message": None}, None),
        ({"id": [1], "status": "running"}, "id is a list"),
        ({"id": True, "status": "running"}, "id is a boolean"),
        ({"id": "1", "status": "running"}, "id is a string"),
        ({"status": "running"}, "id is missing or null"),
        ({"id": 1, "status": {"a": 1}}, "status is an object"),
        ({"id": 1}, "status is missing or null"),
        ({"id": 1, "status": "completed", "success": 1}, "success is a number"),
        ({"id": 1, "status": "failed", "error_message": ["x"]}, "error_message is a list"),
    ],
)
def test_run_problem_names_the_first_wrong_field(data: dict[str, Any], problem: str | None) -> None:
    assert run_problem(data) == problem


@pytest.mark.parametrize(
    "data",
    [
        {"status": ["completed"]},
        {"status": {"a": 1}},
        {"status": "failed", "error_message": {"a": 1}},
        {"status": "completed", "success": "yes"},
    ],
)
def test_outcome_of_never_raises_on_odd_types(data: dict[str, Any]) -> None:
    verdict = outcome_of(data)
    assert verdict is None or isinstance(verdict[0], Outcome)
    if data.get("status") == "failed":
        assert verdict == (Outcome.ERROR, "Cekura: the run ended failed")
