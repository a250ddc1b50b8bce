"""The fast paths of making a run's report give what the plain code gave, for any input.

Each reference below is the plain version of a function as it was before a report of
10,000 runs made it take shortcuts: exact types first, a key once per cell, the text of
the runs written once (`_text` and the parse of a duration did not change: both sides use
them). Hypothesis draws odd values for both: NaN and infinities, ints too large for a
float, -0.0, booleans beside 1 and 1.0, non-ASCII, subclasses of dict and str, nesting.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_factory import cells_report
from test_odd_runs import JSONISH, RUN

from specrunner.app import reports
from specrunner.errors import UsageError
from specrunner.history.entries import report_id
from specrunner.masking import Secrets
from specrunner.report.build import _cleaned, cell_key, finite, judge
from specrunner.report.cekura_details import _seconds_of, _text, cekura_details, finite_number
from specrunner.report.json_text import ItemsJson, canonical_pieces, item_json
from specrunner.report.write import render_json

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Text(str):
    """A str subclass (JSON writes it as its text)."""


class Record(OrderedDict[str, Any]):
    """A Mapping that is not exactly a dict."""


ODD = st.one_of(
    JSONISH,
    st.sampled_from(
        [10**400, -(10**400), 2**63, -0.0, True, 1, 1.0, "é\u2028\x00", Text("t"), "🎙"]
    ),
)


def subclassed(value: Any) -> Any:
    """`value` with its dicts as `Record`s and its strings as `Text`s, all the way down."""
    if isinstance(value, dict):
        return Record((k, subclassed(v)) for k, v in value.items())
    if isinstance(value, list):
        return [subclassed(v) for v in value]
    if isinstance(value, str):
        return Text(value)
    return value


# -- the references


def reference_finite_number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:
        return None


def reference_explanation(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [_text(item) for item in value]
    return [_text(value)]


def reference_seconds(duration: Any) -> float | None:
    if not isinstance(duration, str) or ":" not in duration:
        return None
    return _seconds_of.__wrapped__(duration)  # the parse, without its cache


def reference_cekura_details(run: Any) -> dict[str, Any]:
    run = run if isinstance(run, Mapping) else {}
    evaluation = run.get("evaluation")
    listed = evaluation.get("metrics") if isinstance(evaluation, Mapping) else None
    metrics: list[dict[str, Any]] = []
    for metric in listed if isinstance(listed, list) else ():
        if not isinstance(metric, Mapping) or metric.get("name") is None:
            continue
        kind = metric.get("type")
        value = metric.get("value")
        metrics.append(
            {
                "name": _text(metric["name"]),
                "type": "" if kind is None else _text(kind),
                "score": reference_finite_number(metric.get("score")),
                "value": value if isinstance(value, str) else None,
                "explanation": reference_explanation(metric.get("explanation")),
            }
        )
    expected = run.get("expected_outcome")
    expected_outcome = None
    if isinstance(expected, Mapping):
        expected_outcome = {
            "score": reference_finite_number(expected.get("score")),
            "explanation": reference_explanation(expected.get("explanation")),
        }
    transcript = run.get("transcript")
    recording = run.get("voice_recording_url")
    return {
        "duration_seconds": reference_seconds(run.get("duration")),
        "transcript": transcript if isinstance(transcript, str) and transcript else None,
        "recording_url": recording if isinstance(recording, str) and recording else None,
        "metrics": metrics,
        "expected_outcome": expected_outcome,
    }


def reference_cleaned(report: dict[str, Any], hidden: Secrets) -> dict[str, Any]:
    """The report searched as one JSON text, walked when that finds anything."""
    try:
        text = json.dumps(report, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return finite(hidden.redact(report))  # type: ignore[no-any-return]
    as_written = all(
        json.dumps(v, ensure_ascii=False)[1:-1] == v for v in (*hidden.values(), *hidden.derived)
    )
    if as_written and hidden.redact_text(text) == text:
        return report
    return hidden.redact(report)  # type: ignore[no-any-return]


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (so 1 is not True, nor -0.0 0.0),
    NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, Mapping):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# -- Cekura's Run object


@SETTINGS
@given(st.one_of(RUN, RUN.map(subclassed), ODD))
def test_cekura_details_reads_any_run_object_as_the_plain_code_did(run: Any) -> None:
    assert same(cekura_details(run), reference_cekura_details(run))


NAMED_METRIC = st.fixed_dictionaries(
    {"name": ODD},
    optional={
        "type": ODD,
        "score": ODD,
        "value": ODD,
        "explanation": ODD | st.lists(ODD, max_size=3),
    },
)


@SETTINGS
@given(
    st.lists(NAMED_METRIC, max_size=3),
    st.fixed_dictionaries({}, optional={"score": ODD, "explanation": ODD}),
)
def test_every_field_of_a_metric_is_read_as_the_plain_code_read_it(
    metrics: list[Any], expected: dict[str, Any]
) -> None:
    run = {"evaluation": {"metrics": metrics}, "expected_outcome": expected}
    for shown in (run, subclassed(run)):
        assert same(cekura_details(shown), reference_cekura_details(shown))


@SETTINGS
@given(ODD)
def test_finite_number_is_the_plain_check(value: Any) -> None:
    assert same(finite_number(value), reference_finite_number(value))


def test_durations_read_from_the_cache_are_the_ones_first_read() -> None:
    for duration in ["01:30", "01:30", "1:2:nan", "1:2:nan", Text("02:00"), "02:00"]:
        assert same(
            cekura_details({"duration": duration})["duration_seconds"], reference_seconds(duration)
        )


# -- cells


CELL_VALUES = st.one_of(
    st.sampled_from([1, True, 1.0, 0.0, -0.0, float("nan"), None, "1", "é", 10**30]),
    st.lists(st.sampled_from([1, True, "a"]), max_size=2),
)
CELLS = st.one_of(
    st.dictionaries(st.sampled_from(["a", "b", "é", "1"]), CELL_VALUES, max_size=2),
    # Keys JSON writes as text: {1: 1} is the cell {"1": 1}.
    st.dictionaries(st.sampled_from([1, 2]), st.sampled_from([1, "x"]), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), CELL_VALUES, max_size=2).map(Record),
)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["s", "t"]), CELLS), min_size=1, max_size=12))
def test_runs_are_judged_in_the_cell_their_cell_key_names(
    drawn: list[tuple[str, dict[Any, Any]]],
) -> None:
    runs: list[Any] = [
        {"key": f"k{i}", "scenario": scenario, "cell": cell, "outcome": "passed"}
        for i, (scenario, cell) in enumerate(drawn)
    ]
    metas: list[Any] = []
    for scenario, cell in drawn:
        if all(cell_key(m["scenario"], m["cell"]) != cell_key(scenario, cell) for m in metas):
            metas.append(
                {
                    "scenario": scenario,
                    "scenario_id": 1,
                    "cell": cell,
                    "label": "-",
                    "tags": [],
                    "expect": {"pass_rate": 1.0},
                }
            )
    cells, _ = judge(runs, metas)
    for meta, cell in zip(metas, cells, strict=True):
        wanted = cell_key(meta["scenario"], meta["cell"])
        assert cell["keys"] == [
            r["key"] for r in runs if cell_key(r["scenario"], r["cell"]) == wanted
        ]


@SETTINGS
@given(st.text(), CELLS)
def test_cell_key_is_the_canonical_json_it_always_was(scenario: str, cell: Any) -> None:
    assert cell_key(scenario, cell) == json.dumps(
        [scenario, cell], sort_keys=True, ensure_ascii=False
    )


# -- JSON text


@SETTINGS
@given(ODD)
def test_item_json_is_json_dumps(value: Any) -> None:
    try:
        expected = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        with pytest.raises(ValueError, match="not JSON compliant"):
            item_json(value)
        return
    assert item_json(value) == expected


@SETTINGS
@given(st.dictionaries(st.text(max_size=6), ODD, max_size=5))
def test_report_id_is_the_hash_of_the_canonical_json_it_always_was(data: Any) -> None:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    except UnicodeEncodeError:  # a lone surrogate: no id, as before
        with pytest.raises(UnicodeEncodeError):
            report_id(data)
        return
    assert report_id(data) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.text(max_size=4),
        st.one_of(ODD, st.lists(ODD, min_size=1, max_size=3).map(lambda few: few * 900)),
        max_size=4,
    )
    | st.dictionaries(st.integers(), ODD, max_size=3)
    | ODD
)
def test_the_canonical_text_in_pieces_is_the_canonical_text(data: Any) -> None:
    # Lists of up to 2,700 items: the pieces of a long one are a thousand items each.
    whole = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        expected = whole.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no canonical text, as before
        with pytest.raises(UnicodeEncodeError):
            b"".join(canonical_pieces(data))
        return
    assert b"".join(canonical_pieces(data)) == expected


# Where orjson and json write a number apart (floats under 1e-4), or orjson refuses it.
AWKWARD_NUMBERS = (
    st.sampled_from(
        [1e-05, -2.5e-05, 9.99e-05, 1e-07, 5e-324, -1e-300, 1e-4, 1e16, 1.5e22, 1e308, 0.1, -0.0]
    )
    | st.sampled_from([2**63, 2**64, -(2**63) - 1, 10**30])
    | st.floats(allow_nan=False, allow_infinity=False)
)
RUN_VALUES = st.recursive(
    ODD | AWKWARD_NUMBERS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=2).map(Record)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RUN_VALUES, min_size=1, max_size=3), st.integers(1, 2))
def test_runs_written_out_have_the_canonical_text_they_always_had(few: list[Any], n: int) -> None:
    """The runs of a report just made (written out by `item_json`) are made canonical by
    orjson: the text is still json's, byte for byte, whatever the runs hold."""
    runs = few * (600 * n)  # over a thousand: in pieces, each written by orjson
    data = {"runs": runs, "verdict": few[0]}
    try:
        written = ItemsJson.of(runs)
    except ValueError:  # a NaN or an infinity: never written out, so never this way
        return
    whole = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    try:
        expected = whole.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            b"".join(canonical_pieces(data, written))
        return
    assert b"".join(canonical_pieces(data, written)) == expected


def test_a_report_of_10_000_runs_has_the_id_it_always_had() -> None:
    report: Any = cells_report()
    first = report["runs"][0]
    report["runs"] = [dict(first, key=f"{n:016x}") for n in range(10_000)]
    text = json.dumps(report, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    expected = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert report_id(report) == expected
    # Its runs written out as it was made: the same id, written by orjson.
    assert report_id(report, ItemsJson.of(report["runs"])) == expected
    # Texts of another list prove nothing of these runs: json writes them.
    other = ItemsJson.of([dict(run) for run in report["runs"]])
    assert report_id(report, other) == expected


def test_the_runs_written_once_are_the_runs_results_json_writes() -> None:
    report = cells_report()
    written = ItemsJson.of(report["runs"])
    assert render_json(report, runs=written) == render_json(report)
    # The texts are of that list only: another list, or the same one grown, is written anew.
    other = cells_report()
    assert written.texts_of(other["runs"]) is None
    report["runs"].append(report["runs"][0])
    assert written.texts_of(report["runs"]) is None
    assert render_json(report, runs=written) == render_json(report)
    assert render_json(report).count(item_json(report["runs"][0])) == 2


# -- secrets and non-finite numbers


SECRETS = st.lists(
    st.sampled_from(["s3cret-key", "é-secret", 'pa"ss', "tab\tkey", "1234", "x"]), max_size=2
)


@SETTINGS
@given(
    st.lists(RUN, min_size=1, max_size=3), SECRETS, st.sampled_from(["", "s3cret-key", "é-secret"])
)
def test_a_report_is_cleaned_as_the_whole_text_search_cleaned_it(
    runs: list[Any], secrets: list[str], echoed: str
) -> None:
    report: dict[str, Any] = {
        "suite": {"name": f"suite {echoed}"},
        "runs": [
            {"key": f"k{i}", "error": f"refused {echoed}", **cekura_details(run)}
            for i, run in enumerate(runs)
        ],
    }
    hidden = Secrets(secrets)
    cleaned, written = _cleaned(report, hidden)
    expected = reference_cleaned(report, hidden)
    assert same(cleaned, expected)
    if written is not None:
        assert cleaned is report
        assert written.texts == tuple(item_json(run) for run in report["runs"])


# -- the collector


def test_making_a_report_leaves_the_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    with reports._collector_paused():
        assert not gc.isenabled()
        made: list[Any] = [[] for _ in range(100)]
    assert gc.isenabled()
    # What was made while paused went to the oldest generation, none of it left frozen.
    assert gc.get_freeze_count() == 0
    assert any(item is made for item in gc.get_objects(generation=2))
    gc.disable()
    try:
        with reports._collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(KeyError), reports._collector_paused():
        raise KeyError("made while paused")
    assert gc.isenabled()


def test_objects_frozen_by_someone_else_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with reports._collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_a_saved_report_is_read_and_rendered_with_the_collector_paused(tmp_path: Path) -> None:
    """`specrunner report` reads 10,000 runs of new containers, none in a cycle: the
    collector is paused while it does (0.13 s of about 1 s), then as it was."""
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(cells_report()), encoding="utf-8")
    seen: list[bool] = []

    def trend(_report: Any, _runs: Any) -> None:
        seen.append(gc.isenabled())

    reports.render_saved(str(saved), [str(tmp_path / "again.json")], trend=trend)
    assert seen == [False] and gc.isenabled()
    with pytest.raises(UsageError):
        reports.render_saved(str(tmp_path / "missing.json"), [str(tmp_path / "x.json")])
    assert gc.isenabled()
