"""How many submissions go at once when `--submissions` is not given: one per 50 runs in
flight, from 4 to 32; and the Cekura client has a connection for each of them, beside a
poll's GETs and the end-calls."""

from __future__ import annotations

import pytest

from specrunner.app.clients import cekura_connections
from specrunner.app.running import RunRequest, default_submissions, submissions_of
from specrunner.cekura import POLLS_AT_ONCE


@pytest.mark.parametrize(
    ("concurrency", "submissions"),
    [(1, 4), (10, 4), (200, 4), (249, 4), (250, 5), (1000, 20), (1600, 32), (100_000, 32)],
)
def test_the_default_grows_with_the_runs_in_flight(concurrency: int, submissions: int) -> None:
    assert default_submissions(concurrency) == submissions
    assert submissions_of(RunRequest(plan=None, concurrency=concurrency)) == submissions


def test_a_number_given_is_kept_whatever_the_concurrency() -> None:
    assert submissions_of(RunRequest(plan=None, concurrency=1000, submissions=2)) == 2
    assert submissions_of(RunRequest(plan=None, concurrency=10, submissions=64)) == 64


@pytest.mark.parametrize("submissions", [1, 4, 20, 32, 64])
def test_every_submission_and_a_polls_gets_have_a_connection(submissions: int) -> None:
    # a request past the connections waits for one (10 s, then it is refused, not sent)
    assert cekura_connections(submissions) >= submissions + POLLS_AT_ONCE + 4
    assert cekura_connections(4) == 20  # as before the default grew
