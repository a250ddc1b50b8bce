"""docs/running.md's "Progress" section says what the views print: its example lines are
lines the plain view makes, every word of the line is in its table of words, and the
stopping messages are quoted verbatim."""

from __future__ import annotations

import re

from conftest import REPO
from specrunner.app.running import STOPPING_END, STOPPING_LEAVE
from specrunner.models import Snapshot
from specrunner.report.progress import EVERY, HEARTBEAT
from specrunner.report.progress_state import Reading, plain_line

TIME = r"\d+(?:s|m\d\ds|h\d\dm)"
RUNNING = (REPO / "docs" / "running.md").read_text(encoding="utf-8")
SECTION = RUNNING.split("## Progress\n", 1)[1].split("\n## ", 1)[0]


def text_blocks() -> list[list[str]]:
    blocks = re.findall(r"```text\n(.*?)```", SECTION, flags=re.DOTALL)
    return [block.splitlines() for block in blocks]


def words_defined() -> set[str]:
    return set(re.findall(r"^\| `([^`]+)` \|", SECTION, flags=re.MULTILINE))


def reading(
    elapsed: float, left: float | None, *, live: int, in_flight: int, **outcomes: int
) -> Reading:
    snapshot = Snapshot(11, outcomes, in_flight, live, elapsed)
    return Reading(snapshot, elapsed, None if left is None else (left, elapsed))


def test_the_plain_lines_shown_are_lines_the_view_prints() -> None:
    shown = text_blocks()[1]
    made = [
        reading(0, None, live=0, in_flight=0),
        reading(72, 170, live=3, in_flight=5, passed=3, failed=1),
        reading(82, 160, live=3, in_flight=5, passed=3, failed=1),
        reading(160, None, live=0, in_flight=0, passed=9, failed=1, error=1),
    ]
    assert shown == [plain_line(r, now=r.received_at) for r in made]


def test_the_bar_shown_has_the_words_of_the_view() -> None:
    bar, counts = text_blocks()[0]
    line = plain_line(reading(72, 170, live=3, in_flight=5, passed=3, failed=1), now=72)
    done, rest = line.split(": ", 1)
    tally, times = rest.rsplit("; ", 1)
    assert bar.endswith(f" {done}  {times}")
    assert counts == tally


def test_every_word_of_the_line_is_defined() -> None:
    line = plain_line(
        reading(65, 30, live=1, in_flight=2, passed=1, failed=1, error=2, unknown=1, not_run=1),
        now=65,
    )
    line = re.sub(TIME, "", re.sub(rf"about {TIME} left", "about ... left", line))
    words = [re.sub(r"[\d/]+", "", part).strip() for part in re.split(r"[,;:] ", line)]
    assert words == [
        "done",
        "passed",
        "failed",
        "errors",
        "unknown",
        "not run",
        "live in Cekura",
        "in flight",
        "elapsed",
        "about ... left",
    ]
    defined = words_defined()
    missing = [w for w in words if w not in defined]
    assert missing == [], f"docs/running.md defines {sorted(defined)}"


def test_the_pace_and_the_stopping_messages_are_as_documented() -> None:
    prose = " ".join(SECTION.split())
    assert f"at most one every {EVERY:g} seconds" in prose
    assert f"at least one every {HEARTBEAT:g} seconds" in prose
    assert STOPPING_LEAVE in prose
    leave_head, _ = STOPPING_LEAVE.split("; live runs")
    end_tail = STOPPING_END.removeprefix(leave_head)
    assert end_tail.startswith("; the live calls are being ended")
    assert "`...; the live calls are being ended ...`" in prose
