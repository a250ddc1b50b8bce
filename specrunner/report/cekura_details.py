"""What a report keeps of Cekura's Run object: its duration, transcript, recording,
metrics and expected outcome, read so that no value of any type makes it fail.

A report's 10,000 runs come through here: plain dicts and strings, the usual case, are
told by their exact type before the slower checks that take any mapping or string.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import Any, TypedDict

from specrunner.report.records import ExpectedOutcome, ReportMetric


class CekuraDetails(TypedDict):
    """The part of a report's run that comes from Cekura's Run object."""

    duration_seconds: float | None
    transcript: str | None
    recording_url: str | None
    metrics: list[ReportMetric]
    expected_outcome: ExpectedOutcome | None


def cekura_details(run: Any) -> CekuraDetails:
    """What the report keeps of Cekura's Run object.

    Never raises, whatever the Run object holds: a value of an unexpected type or a number
    that is not finite (NaN, infinity) becomes null, and an explanation that is not a list
    of strings becomes one (each odd item as its JSON text)."""
    if type(run) is not dict and not isinstance(run, Mapping):
        run = {}
    evaluation = run.get("evaluation")
    listed = (
        evaluation.get("metrics")
        if type(evaluation) is dict or isinstance(evaluation, Mapping)
        else None
    )
    metrics: list[ReportMetric] = []
    for metric in listed if isinstance(listed, list) else ():
        if type(metric) is not dict and not isinstance(metric, Mapping):
            continue
        name = metric.get("name")
        if name is None:
            continue
        kind = metric.get("type")
        value = metric.get("value")
        metrics.append(
            {
                "name": name if type(name) is str else _text(name),
                "type": kind if type(kind) is str else "" if kind is None else _text(kind),
                "score": finite_number(metric.get("score")),
                "value": value if isinstance(value, str) else None,
                "explanation": _explanation(metric.get("explanation")),
            }
        )
    expected = run.get("expected_outcome")
    expected_outcome: ExpectedOutcome | None = None
    if type(expected) is dict or isinstance(expected, Mapping):
        expected_outcome = {
            "score": finite_number(expected.get("score")),
            "explanation": _explanation(expected.get("explanation")),
        }
    transcript = run.get("transcript")
    recording = run.get("voice_recording_url")
    return {
        "duration_seconds": _seconds(run.get("duration")),
        "transcript": transcript if isinstance(transcript, str) and transcript else None,
        "recording_url": recording if isinstance(recording, str) and recording else None,
        "metrics": metrics,
        "expected_outcome": expected_outcome,
    }


def finite_number(value: Any) -> int | float | None:
    """`value` when it is a finite number (not a bool, not NaN or infinite), else None."""
    kind = type(value)
    # Exactly an int or a float, the usual case, first; then subclasses (bool among them).
    if (
        kind is not int
        and kind is not float
        and (isinstance(value, bool) or not isinstance(value, int | float))
    ):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # an int too large for a float
        return None


def _text(value: Any) -> str:
    """A string as it is; any other value as its JSON text (never raises)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True, default=repr)
    except (ValueError, TypeError, RecursionError):
        return "<unreadable value>"


def _explanation(value: Any) -> list[str]:
    """Cekura's explanation (a list of strings, normally) as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [item if type(item) is str else _text(item) for item in value]
    return [_text(value)]


def _seconds(duration: Any) -> float | None:
    """Cekura's "MM:SS" (or "H:MM:SS") as seconds; None unless that is a finite,
    non-negative number."""
    if not isinstance(duration, str) or ":" not in duration:
        return None
    return _seconds_of(duration)


@functools.lru_cache(maxsize=4096)  # a run's 10,000 durations take a few hundred values
def _seconds_of(duration: str) -> float | None:
    total = 0.0
    for part in duration.split(":"):
        try:
            number = float(part)
        except ValueError:
            return None
        if not math.isfinite(number) or number < 0:
            return None
        total = total * 60 + number
    return total if math.isfinite(total) else None
