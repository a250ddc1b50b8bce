"""Poll answers whose Run objects hold fields of odd types never crash a run: an object
whose id is not an integer is skipped, one with a wrong field ends its own run as an error
naming the field, and the other runs carry on. Each Run object is checked field by field
against schemas/cekura-run.v1.json."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_executor import FakeCekura, FakeSource, execute, plan

from specrunner.cekura import outcome_of, run_problem
from specrunner.cekura_run import _validator, run_schema
from specrunner.emulator import ScriptedOutcome
from specrunner.emulator.report import run_json
from specrunner.emulator.runs import Run, Status
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


class LiveOddCekura(FakeCekura):
    """Runs finish on the third poll; while live, run 101's other fields are odd (and run
    102's status is not a string); once final, run 103's success is."""

    def __init__(self) -> None:
        super().__init__(polls_to_finish=3)

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        found = await super().poll(run_ids)
        for data in found:
            live = data["status"] != "completed"
            if data["id"] == 101 and live:
                data.update(duration=[1, 2], success="not yet", transcript={"a": 1})
            if data["id"] == 102 and live:
                data["status"] = {"state": "running"}
            if data["id"] == 103 and not live:
                data["success"] = "yes"
        return found


def test_a_live_run_is_read_by_its_status_and_checked_whole_once_final(tmp_path: Path) -> None:
    cekura = LiveOddCekura()
    records, _ = execute(
        tmp_path, plan(4, {"a": None}, scenarios=4), cekura, {"a": FakeSource("a", None)}
    )
    by_id = {r.run_id: r for r in records}
    # odd fields while live are not read: the run goes on and passes on its final object
    assert by_id[101].outcome is Outcome.PASSED and by_id[101].error is None
    # a status that is not a string cannot be read at all: an error at once
    assert by_id[102].error == (
        "Cekura's answer for run 102 has a wrong field: status is an object"
    )
    assert cekura.seen[102] == 1  # not polled again
    # the final object is checked whole
    assert by_id[103].error == "Cekura's answer for run 103 has a wrong field: success is a string"
    assert by_id[104].outcome is Outcome.PASSED


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
        ({"id": 1.0, "status": "running"}, "id is a number"),
        ({"id": 1, "status": "completed", "duration": ["00:03"]}, "duration is a list"),
        ({"id": 1, "status": "completed", "duration": 3}, "duration is a number"),
        ({"id": 1, "status": "completed", "transcript": {"t": 1}}, "transcript is an object"),
        (
            {"id": 1, "status": "completed", "voice_recording_url": 7},
            "voice_recording_url is a number",
        ),
        ({"id": 1, "status": "completed", "evaluation": "good"}, "evaluation is a string"),
        (
            {"id": 1, "status": "completed", "evaluation": {"metrics": {}}},
            "evaluation.metrics is an object",
        ),
        (
            {"id": 1, "status": "completed", "evaluation": {"metrics": [{"name": "a"}, "b"]}},
            "evaluation.metrics[1] is a string",
        ),
        (
            {"id": 1, "status": "completed", "evaluation": {"metrics": [{"name": ["a"]}]}},
            "evaluation.metrics[0].name is a list",
        ),
        (
            {"id": 1, "status": "completed", "evaluation": {"metrics": [{"score": "5"}]}},
            "evaluation.metrics[0].score is a string",
        ),
        (
            {"id": 1, "status": "completed", "evaluation": {"metrics": [{"value": [1]}]}},
            "evaluation.metrics[0].value is a list",
        ),
        (
            {"id": 1, "status": "completed", "evaluation": {"metrics": [{"explanation": 5}]}},
            "evaluation.metrics[0].explanation is a number",
        ),
        (
            {
                "id": 1,
                "status": "completed",
                "evaluation": {"metrics": [{"explanation": ["a", 2]}]},
            },
            "evaluation.metrics[0].explanation[1] is a number",
        ),
        ({"id": 1, "status": "completed", "expected_outcome": [1]}, "expected_outcome is a list"),
        (
            {"id": 1, "status": "completed", "expected_outcome": {"score": "high"}},
            "expected_outcome.score is a string",
        ),
        # the first wrong field, in the schema's order, whatever the object's order
        ({"duration": [], "success": "y", "id": 1, "status": "x"}, "success is a string"),
        # what Cekura may leave out or null, and what is not read, may be anything
        (
            {
                "id": 1,
                "status": "completed",
                "success": True,
                "duration": None,
                "transcript": None,
                "voice_recording_url": None,
                "evaluation": None,
                "expected_outcome": None,
                "metadata": [[[{"deep": True}]]],
                "rubric": "anything",
            },
            None,
        ),
        (
            {
                "id": 1,
                "status": "completed",
                "evaluation": {
                    "metrics": [
                        {"name": "binary", "score": False, "explanation": "one string"},
                        {"name": "enum", "type": "enum", "value": "positive", "score": None},
                        {"name": "numeric", "score": 1.5, "explanation": [], "extra": {"x": [1]}},
                    ]
                },
                "expected_outcome": "as the description types it",
            },
            None,
        ),
        ({"id": 1, "status": "some-new-status"}, None),
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


def test_a_run_with_a_wrong_field_of_any_depth_is_an_error_naming_it(tmp_path: Path) -> None:
    cekura = OddCekura(
        {
            101: {"duration": ["00:03"]},
            102: {"evaluation": {"metrics": [{"name": "latency", "score": "fast"}]}},
        }
    )
    records, _ = execute(
        tmp_path, plan(3, {"a": None}, scenarios=3), cekura, {"a": FakeSource("a", None)}
    )
    by_id = {r.run_id: r for r in records}
    assert [by_id[i].outcome for i in (101, 102, 103)] == [
        Outcome.ERROR,
        Outcome.ERROR,
        Outcome.PASSED,
    ]
    assert by_id[101].error == "Cekura's answer for run 101 has a wrong field: duration is a list"
    assert by_id[102].error == (
        "Cekura's answer for run 102 has a wrong field: evaluation.metrics[0].score is a string"
    )


def test_the_schema_is_a_valid_schema_and_the_emulator_s_runs_match_it() -> None:
    Draft202012Validator.check_schema(run_schema())
    for status in Status:
        for outcome in ScriptedOutcome:
            run = Run(
                id=5,
                result_id=7,
                scenario=30,
                scenario_name="s30",
                agent=1,
                room_url="https://acme.daily.co/lab",
                token=None,
                payload=None,
                created_at=0.0,
                outcome=outcome,
                duration=3.0,
                status=status,
                started_at=None if status is Status.PENDING else 1.0,
                call_ended_at=4.0 if status is Status.COMPLETED else None,
            )
            assert run_problem(run_json(run, str)) is None, (status, outcome)


def test_ten_thousand_runs_are_checked_in_a_few_seconds() -> None:
    metrics = [
        {"id": i, "name": f"m{i}", "type": "numeric", "score": i, "explanation": ["x"], "extra": {}}
        for i in range(5)
    ]
    runs = [
        {
            "id": i,
            "status": "completed",
            "success": True,
            "duration": "01:05",
            "transcript": "Testing Agent: hello\n" * 200,
            "evaluation": {"metrics": metrics},
            "expected_outcome": {"score": 100, "explanation": ["met"], "outcome_alignments": []},
            "metadata": {"ended_reason": "hangup"},
        }
        for i in range(10_000)
    ]
    run_problem(runs[0])  # the validator is made once, here (checking the schema: 6 ms)
    started = time.perf_counter()
    problems = [run_problem(run) for run in runs]
    took = time.perf_counter() - started
    assert problems == [None] * 10_000
    # about 3 s here; checking the schema again for each run would take a minute
    assert took < 15.0, f"{took:.2f} s for 10,000 runs"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = st.sampled_from(
    [
        "id",
        "status",
        "success",
        "error_message",
        "duration",
        "transcript",
        "evaluation",
        "expected_outcome",
        "voice_recording_url",
        "metadata",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(FIELDS, JSON, max_size=6),
    st.dictionaries(
        st.sampled_from(["metrics"]),
        st.lists(
            JSON
            | st.dictionaries(
                st.sampled_from(["name", "type", "score", "value", "explanation"]), JSON, max_size=5
            ),
            max_size=3,
        ),
    ),
)
def test_any_json_is_checked_without_raising(
    data: dict[str, Any], evaluation: dict[str, Any]
) -> None:
    run = {**data, "evaluation": evaluation} if evaluation else data
    problem = run_problem(run)
    assert problem is None or (isinstance(problem, str) and " is " in problem)
    # the fast check and jsonschema give one verdict
    assert (problem is None) == _validator().is_valid(run)
    verdict = outcome_of(run)
    assert verdict is None or isinstance(verdict[0], Outcome)
