"""Batches: the order runs are taken in, what one POST holds, and what Cekura's answer to
it says of each run. Pure functions of the executor's runs."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from specrunner.cekura import Submitted
from specrunner.execute.tracked import Tracked


def interleaved(runs: Iterable[Tracked]) -> deque[Tracked]:
    """The runs in plan order within each scenario, taking the scenarios in turn: a batch
    holds each scenario once, so runs become ready in an order that lets batches fill."""
    queues: dict[int, deque[Tracked]] = {}
    for run in runs:
        queues.setdefault(run.planned.scenario_id, deque()).append(run)
    order: deque[Tracked] = deque()
    while queues:
        for scenario in list(queues):
            order.append(queues[scenario].popleft())
            if not queues[scenario]:
                del queues[scenario]
    return order


def take_batch(
    ready: deque[Tracked], batch_size: int, batch: Sequence[Tracked] = ()
) -> list[Tracked]:
    """Ready runs to add to `batch`, in order, taken out of `ready`: up to `batch_size` in
    all, never two of one scenario (Cekura's answer is matched to its entries by scenario).
    Runs passed over stay at the front of `ready`, in their order."""
    taken: list[Tracked] = []
    scenarios = {run.planned.scenario_id for run in batch}
    kept: deque[Tracked] = deque()
    while ready and len(batch) + len(taken) < batch_size:
        run = ready.popleft()
        if run.planned.scenario_id in scenarios:
            kept.append(run)
            continue
        scenarios.add(run.planned.scenario_id)
        taken.append(run)
    ready.extendleft(reversed(kept))
    return taken


def entry_of(run: Tracked) -> dict[str, Any]:
    """The run's entry in a `run_scenarios_pipecat` request."""
    assert run.lease is not None
    entry: dict[str, Any] = {
        "scenario": run.planned.scenario_id,
        "pipecat_room_url": run.lease.url,
    }
    if run.lease.token:
        entry["pipecat_token"] = run.lease.token
    if run.planned.publish_data_message is not None:
        entry["publish_data_message"] = run.planned.publish_data_message
    return entry


def match_answer(
    batch: Sequence[Tracked], answer: Submitted, seen: Collection[int]
) -> tuple[dict[str, int], dict[str, str]]:
    """Run key -> its run id, for the runs the answer tells apart; run key -> why not, for
    the others (no run of their own, or a run id `seen` before)."""
    matched: dict[str, int] = {}
    unknown: dict[str, str] = {}
    for index, run in enumerate(batch):
        run_id = answer.run_ids[index]
        if run_id is None:
            unknown[run.planned.key] = answer.unmatched.get(
                index, "Cekura's answer lists no run for it"
            )
        elif run_id in seen:
            unknown[run.planned.key] = f"Cekura's answer gives it run {run_id}, seen before"
        else:
            matched[run.planned.key] = run_id
    return matched, unknown


def plain(handle: Any) -> Any:
    """A lease's handle as the journal can hold it."""
    return handle if isinstance(handle, str | int | float | bool) or handle is None else str(handle)
