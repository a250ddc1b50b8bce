"""A poll that never answers (a slow-loris server) cannot hold a run past its timeout:
the executor cuts it once the first live run's timeout, the poll interval and a margin
have passed, then times the run out as usual."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from test_executor import FakeCekura, FakeSource, execute, plan

from specrunner.execute.executor import POLL_MARGIN
from specrunner.models import Outcome
from specrunner.retry import RetryPolicy


class NeverAnswers(FakeCekura):
    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        self.polls.append(list(run_ids))
        await asyncio.sleep(30)  # bounded: a broken cut fails the test, slowly
        raise AssertionError("a poll that never answers is cut long before this")


def test_a_poll_that_never_answers_does_not_hold_a_run_past_its_timeout(tmp_path: Path) -> None:
    cekura = NeverAnswers()
    started = time.monotonic()
    records, _ = execute(
        tmp_path,
        plan(2, {"a": None}, timeout=1.0),
        cekura,
        {"a": FakeSource("a", None)},
        poll_interval=0.2,
        now=time.monotonic,
        sleep=asyncio.sleep,
        submit_retry=RetryPolicy(deadline=5.0),
    )
    took = time.monotonic() - started
    assert [r.outcome for r in records] == [Outcome.ERROR, Outcome.ERROR]
    assert all("timed out after 1 s" in (r.error or "") for r in records)
    assert sorted(cekura.ended) == sorted(r.run_id for r in records)
    # its timeout + the poll interval + the margin, and a little for the machine
    assert took < 1.0 + 0.2 + POLL_MARGIN + 1.5, took
