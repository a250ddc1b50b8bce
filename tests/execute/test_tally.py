"""The executor's running counts (`Tally`) always equal a rescan of every run, whatever
order the runs change in: progress and the poll loop rely on them instead of rescanning."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from test_executor import plan

from specrunner.execute.tracked import Tally, Tracked
from specrunner.models import Outcome

OUTCOMES = st.one_of(st.none(), st.sampled_from(list(Outcome)))
RUN_IDS = st.one_of(st.none(), st.integers(min_value=1, max_value=50))
CHANGES = st.lists(
    st.tuples(st.integers(min_value=0, max_value=7), st.booleans(), OUTCOMES, RUN_IDS),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(CHANGES)
def test_the_tally_equals_a_rescan_after_any_changes(
    changes: list[tuple[int, bool, Outcome | None, int | None]],
) -> None:
    tally = Tally()
    runs = [Tracked(run, tally) for run in plan(8, {"a": None}).runs]
    for index, change_outcome, outcome, run_id in changes:
        run = runs[index]
        if change_outcome:
            run.outcome = outcome
        else:
            run.run_id = run_id
        rescanned = Counter(r.outcome.value for r in runs if r.outcome is not None)
        assert tally.outcomes == rescanned
        assert tally.decided == sum(rescanned.values())
        assert set(tally.live) == {r.planned.key for r in runs if r.live}
