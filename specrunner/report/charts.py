"""The HTML report's charts, drawn here as inline SVG: no script draws them, nothing is
fetched, and the page's Content Security Policy needs no change (their colours come from
the style sheet, by class).

- a sparkline per cell: its pass rate over the recorded runs (needs the history);
- the suite's pass rate over the recorded runs (needs the history);
- the distribution of the report's call durations (needs only the report).

Inline SVG in HTML needs no namespace, so the page still names no URL. Every chart says
what it shows in words (`aria-label`, `<title>`) and has its numbers in a
table beside it. Text in them (a cell's id, say) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from markupsafe import Markup, escape

from specrunner.text import counted

TREND_RUNS: Final = 30
"""The recorded runs the charts look back over, the report's own included."""


@dataclass(frozen=True, slots=True)
class RunPoint:
    """One recorded run of the suite, for the charts."""

    finished_at: str
    pass_rate: float | None
    passed: bool
    cells_passed: int
    cells: int
    git_commit: str | None


@dataclass(frozen=True, slots=True)
class CellPoint:
    pass_rate: float | None
    met: bool


@dataclass(frozen=True, slots=True)
class Trend:
    """The history the charts draw: the recorded runs, oldest first (the report's own
    last), and per cell id its point in each of them (None where a run lacked it)."""

    runs: tuple[RunPoint, ...]
    cells: Mapping[str, tuple[CellPoint | None, ...]] = field(default_factory=dict)

    @property
    def drawn(self) -> bool:
        """Whether there is a history to draw: at least one run before the report's own."""
        return len(self.runs) >= 2


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    count: int


# ---- a cell's sparkline

SPARK_W, SPARK_H, SPARK_PAD = 96, 24, 3


def sparkline(cell: str, points: Sequence[CellPoint | None]) -> Markup | None:
    """The cell's pass rate over the runs (oldest first); None with fewer than two."""
    present = [p for p in points if p is not None]
    if len(present) < 2:
        return None
    step = (SPARK_W - 2 * SPARK_PAD) / max(len(points) - 1, 1)
    xy = [
        None
        if p is None or p.pass_rate is None
        else (SPARK_PAD + i * step, _y(p.pass_rate, SPARK_PAD, SPARK_H - SPARK_PAD))
        for i, p in enumerate(points)
    ]
    parts = [
        f'<line class="grid" x1="0" x2="{SPARK_W}" y1="{SPARK_PAD}" y2="{SPARK_PAD}"/>',
        *_lines(xy),
    ]
    for p, spot in zip(points, xy, strict=True):
        if p is not None and spot is not None and not p.met:
            parts.append(f'<circle class="miss" cx="{spot[0]:.1f}" cy="{spot[1]:.1f}" r="2.2"/>')
    last = xy[-1]
    if last is not None and points[-1] is not None and points[-1].met:
        parts.append(f'<circle class="dot" cx="{last[0]:.1f}" cy="{last[1]:.1f}" r="2.2"/>')
    rates = ", ".join("—" if p is None else percent(p.pass_rate) for p in points)
    met = sum(p.met for p in present)
    label = (
        f"{cell}: pass rate over the last {len(points)} runs, oldest first: {rates}; "
        f"met its rule in {met} of {len(present)}"
    )
    return _svg("sparkline", SPARK_W, SPARK_H, label, parts)


# ---- the suite's pass rate over time

CHART_W, CHART_H = 360, 176
LEFT, RIGHT, TOP, BOTTOM = 40, 348, 12, 144


def pass_rate_chart(runs: Sequence[RunPoint]) -> Markup:
    """The suite's pass rate per run (oldest first), each run's dot coloured by verdict."""
    step = (RIGHT - LEFT) / max(len(runs) - 1, 1)
    parts = _y_axis([(0.0, "0%"), (0.5, "50%"), (1.0, "100%")])
    xy = [
        None if r.pass_rate is None else (LEFT + i * step, _y(r.pass_rate, TOP, BOTTOM))
        for i, r in enumerate(runs)
    ]
    parts += _lines(xy)
    for run, spot in zip(runs, xy, strict=True):
        if spot is not None:
            kind = "passed" if run.passed else "failed"
            parts.append(
                f'<circle class="{kind}" cx="{spot[0]:.1f}" cy="{spot[1]:.1f}" r="3.5">'
                f"<title>{escape(when(run.finished_at))}: {percent(run.pass_rate)}, "
                f"{run.cells_passed} of {run.cells} cells met</title></circle>"
            )
    parts += _x_labels(when(runs[0].finished_at, short=True), when(runs[-1].finished_at, True))
    rates = ", ".join(percent(r.pass_rate) for r in runs)
    label = f"Pass rate of the last {len(runs)} runs, oldest first: {rates}"
    return _svg("chart", CHART_W, CHART_H, label, parts)


# ---- the distribution of call durations


def duration_bins(durations: Sequence[float], most: int = 12) -> list[Bin]:
    """Durations in bins of a round width (1, 2 or 5 times a power of ten seconds), at
    most `most` of them; none without durations."""
    values = sorted(d for d in durations if math.isfinite(d) and d >= 0)
    if not values:
        return []
    low, high = values[0], values[-1]
    width = _round_width((high - low) / most)
    start = math.floor(low / width) * width
    count = max(1, min(most, math.ceil((high - start) / width + 1e-9)))
    if start + count * width <= high:  # the largest exactly on an edge
        count += 1
    tally = [0] * count
    for value in values:
        tally[min(int((value - start) / width), count - 1)] += 1
    return [Bin(start + i * width, start + (i + 1) * width, n) for i, n in enumerate(tally)]


def duration_chart(bins: Sequence[Bin]) -> Markup:
    most = max(b.count for b in bins)
    parts = _y_axis([(0.0, "0"), (1.0, str(most))])
    slot = (RIGHT - LEFT) / len(bins)
    for i, b in enumerate(bins):
        top = _y(b.count / most, TOP, BOTTOM)
        parts.append(
            f'<rect class="bar" x="{LEFT + i * slot + 1:.1f}" y="{top:.1f}" '
            f'width="{max(slot - 2, 1):.1f}" height="{BOTTOM - top:.1f}">'
            f"<title>{bin_span(b)}: {counted(b.count, 'call')}</title></rect>"
        )
    parts += _x_labels(_seconds(bins[0].low), _seconds(bins[-1].high))
    shown = ", ".join(f"{bin_span(b)}: {b.count}" for b in bins)
    label = f"Call durations, calls per range: {shown}"
    return _svg("chart", CHART_W, CHART_H, label, parts)


# ---- shared pieces


def _svg(kind: str, width: int, height: int, label: str, parts: Sequence[str]) -> Markup:
    text = escape(label)
    body = "".join(parts)
    return Markup(
        f'<svg class="{kind}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{text}">'
        f"<title>{text}</title>{body}</svg>"
    )


def _y(rate: float, top: float, bottom: float) -> float:
    return bottom - max(0.0, min(1.0, rate)) * (bottom - top)


def _lines(xy: Sequence[tuple[float, float] | None]) -> list[str]:
    """A polyline through each run of consecutive points (a gap breaks the line)."""
    lines: list[str] = []
    stretch: list[tuple[float, float]] = []
    for spot in [*xy, None]:
        if spot is not None:
            stretch.append(spot)
            continue
        if len(stretch) >= 2:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in stretch)
            lines.append(f'<polyline class="line" points="{points}"/>')
        stretch = []
    return lines


def _y_axis(ticks: Sequence[tuple[float, str]]) -> list[str]:
    parts = []
    for value, text in ticks:
        y = _y(value, TOP, BOTTOM)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(text)}</text>"
        )
    return parts


def _x_labels(first: str, last: str) -> list[str]:
    y = BOTTOM + 20
    return [
        f'<text class="tick" x="{LEFT}" y="{y}" text-anchor="start">{escape(first)}</text>',
        f'<text class="tick" x="{RIGHT}" y="{y}" text-anchor="end">{escape(last)}</text>',
    ]


def _round_width(raw: float) -> float:
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}".removesuffix(".0") + "%"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:g} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def bin_span(b: Bin) -> str:
    return f"{_seconds(b.low)}–{_seconds(b.high)}"


def when(value: str, short: bool = False) -> str:
    """ISO 8601 UTC as `YYYY-MM-DD HH:MM` (short: `MM-DD HH:MM`); anything else as given."""
    if len(value) >= 17 and value[10] == "T":
        day = value[5:10] if short else value[:10]
        return f"{day} {value[11:16]}"
    return value
