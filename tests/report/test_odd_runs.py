"""Cekura's Run object may hold anything: the report keeps what it can, never raises, and
never writes a NaN or an infinity."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_factory import cells_report
from test_cells_data import schema_errors

from specrunner.report.build import cells_meta_of, finite, judge
from specrunner.report.cekura_details import cekura_details
from specrunner.report.records import Report
from specrunner.report.write import render_json

NAN = float("nan")
INF = float("inf")


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        ("01:30", 90.0),
        ("1:02:03", 3723.0),
        ("1:2:nan", None),
        ("inf", None),
        ("1:inf", None),
        ("-1:30", None),
        ("1e308:1e308:1e308", None),
        ("a:b", None),
        ("::", None),
        (["1:30"], None),
        (90, None),
        (NAN, None),
        (None, None),
        ({"m": 1}, None),
    ],
)
def test_durations(duration: Any, seconds: float | None) -> None:
    assert cekura_details({"duration": duration})["duration_seconds"] == seconds


def metric(**fields: Any) -> dict[str, Any]:
    return cekura_details({"evaluation": {"metrics": [{"name": "m", "type": "t", **fields}]}})[
        "metrics"
    ][0]


@pytest.mark.parametrize(
    ("score", "kept"),
    [(0.5, 0.5), (3, 3), (NAN, None), (INF, None), (-INF, None), ("0.8", None), (True, None)],
)
def test_scores(score: Any, kept: Any) -> None:
    assert metric(score=score)["score"] == kept
    details = cekura_details({"expected_outcome": {"score": score}})
    assert details["expected_outcome"] is not None
    assert details["expected_outcome"]["score"] == kept


@pytest.mark.parametrize(
    ("explanation", "kept"),
    [
        (["a", "b"], ["a", "b"]),
        ("one sentence", ["one sentence"]),
        (3, ["3"]),
        (NAN, ["NaN"]),
        ({"why": 1}, ['{"why": 1}']),
        ([1, None, {"a": [NAN]}], ["1", "null", '{"a": [NaN]}']),
        (None, []),
        ("", []),
        ([], []),
    ],
)
def test_explanations(explanation: Any, kept: list[str]) -> None:
    assert metric(explanation=explanation)["explanation"] == kept
    details = cekura_details({"expected_outcome": {"explanation": explanation}})
    assert details["expected_outcome"] is not None
    assert details["expected_outcome"]["explanation"] == kept


@pytest.mark.parametrize(
    "run",
    [
        None,
        [],
        "a run",
        {"evaluation": "passed"},
        {"evaluation": {"metrics": 5}},
        {"evaluation": {"metrics": "abc"}},
        {"evaluation": {"metrics": [1, "x", None, {"type": "no name"}]}},
        {"transcript": ["Agent: hi"], "voice_recording_url": 7},
        {"transcript": "", "voice_recording_url": ""},
        {"expected_outcome": [1, 2]},
    ],
)
def test_odd_runs_keep_nothing_odd(run: Any) -> None:
    details = cekura_details(run)
    assert details["duration_seconds"] is None
    assert details["transcript"] is None
    assert details["recording_url"] is None
    assert details["metrics"] == []
    assert details["expected_outcome"] is None


def test_names_and_types_that_are_not_strings_are_their_json_text() -> None:
    kept = cekura_details({"evaluation": {"metrics": [{"name": 7, "type": ["a"], "value": 3}]}})
    assert kept["metrics"] == [
        {"name": "7", "type": '["a"]', "score": None, "value": None, "explanation": []}
    ]


def test_means_near_the_float_limit_stay_finite() -> None:
    report = with_details(
        {"evaluation": {"metrics": [{"name": "big", "type": "t", "score": 1e308}]}}
    )
    assert report["verdict"]["metrics"]["big"] == pytest.approx(1e308)
    assert math.isfinite(report["verdict"]["metrics"]["big"])


def test_a_saved_report_with_a_nan_is_judged_without_it() -> None:
    report = cells_report()
    runs = copy.deepcopy(report["runs"])
    for run in runs:
        run["duration_seconds"] = NAN
        for item in run["metrics"]:
            item["score"] = INF
    _, verdict = judge(runs, cells_meta_of(report))
    assert verdict["duration_seconds"] == {"median": None, "p95": None}
    assert verdict["metrics"] == {}


def test_finite_replaces_every_non_finite_float() -> None:
    data = {"a": [NAN, 1.5, {"b": INF, "c": -INF}], "d": (2, "nan"), "e": True}
    assert finite(data) == {"a": [None, 1.5, {"b": None, "c": None}], "d": [2, "nan"], "e": True}


def test_render_json_refuses_a_nan() -> None:
    report = cells_report()
    report["runs"][0]["duration_seconds"] = NAN
    with pytest.raises(ValueError, match="not JSON compliant"):
        render_json(report)


# -- any Run object


def with_details(run: Any) -> Report:
    """The sample report with every run's Cekura details taken from `run`, judged again."""
    report = cells_report()
    for item in report["runs"]:
        item.update(cekura_details(copy.deepcopy(run)))
    report["cells"], report["verdict"] = judge(report["runs"], cells_meta_of(report))
    return report


ODD_FLOATS = st.sampled_from([NAN, INF, -INF, 1e308, -1e308, 5e-324, -0.0])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    ODD_FLOATS,
    st.text(max_size=12),
    st.sampled_from(["1:2:nan", "inf", "01:30", "1:02:03", "-5:00", "1e308:1e308", ":", ""]),
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def fields(keys: list[str], value: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), value, max_size=len(keys))


METRIC = fields(["name", "type", "score", "value", "explanation"], JSONISH) | JSONISH
RUN = st.one_of(
    JSONISH,
    st.fixed_dictionaries(
        {},
        optional={
            "duration": JSONISH,
            "transcript": JSONISH,
            "voice_recording_url": JSONISH,
            "expected_outcome": fields(["score", "explanation"], JSONISH) | JSONISH,
            "evaluation": st.fixed_dictionaries(
                {}, optional={"metrics": st.lists(METRIC, max_size=4) | JSONISH}
            )
            | JSONISH,
        },
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RUN)
def test_any_run_object_makes_a_valid_finite_report(run: Any) -> None:
    details = cekura_details(run)
    json.dumps(details, allow_nan=False)
    report = with_details(run)
    assert schema_errors(report) == []
    json.loads(render_json(report))


def test_a_secret_json_would_escape_is_still_hidden_in_the_report() -> None:
    # The report is searched as JSON text first; a secret with a quote in it is written
    # escaped there, so the report is walked instead, and the secret still hidden.
    from specrunner.masking import Secrets
    from specrunner.report.build import _cleaned

    secret = 'pa"ss-w0rd-9'
    report = {"runs": [{"error": f"refused {secret}"}], "n": 1}
    for hidden in (Secrets([secret]), Secrets(derived=[secret])):
        # Walked: no text of its runs comes with it, results.json writes them anew.
        assert _cleaned(report, hidden) == ({"runs": [{"error": "refused ***"}], "n": 1}, None)
    plain = {"runs": [{"error": "refused nothing"}]}
    assert _cleaned(plain, Secrets([secret])) == (plain, None)
    # A secret JSON writes as it is, and nowhere in the report: the report as it was, and
    # the text of its runs that the search wrote.
    kept, runs = _cleaned(plain, Secrets(["pass-w0rd-9"]))
    assert kept is plain
    assert runs is not None and runs.texts_of(plain["runs"]) == ('{"error": "refused nothing"}',)
    assert _cleaned({"x": float("nan")}, Secrets()) == ({"x": None}, None)
