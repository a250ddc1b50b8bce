"""Whatever order the emulator lists a POST's runs in (Cekura documents none), specrunner
matches every run to its own entry: the ledger's run for each record carries the record's
key."""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

import specrunner
from specrunner.emulator import Behaviour, Emulator, EmulatorConfig, ReplyOrder, StaticRoom

ROOMS = 6


def suite() -> dict[str, Any]:
    rooms = [{"url": f"https://specrunner-emulator.daily.co/lab-{i}"} for i in range(ROOMS)]
    return {
        "version": 1,
        "name": "reply-order",
        "rooms": {"lab": {"source": "static", "rooms": rooms}},
        "defaults": {
            "repeat": 3,
            "timeout": "1m",
            "publish_data_message": {"run_key": "{{ run.key }}"},
        },
        "scenarios": [{"id": 30 + i, "name": f"scenario-{i}"} for i in range(4)],
    }


@pytest.mark.parametrize("order", list(ReplyOrder))
def test_every_reply_order_keeps_every_run_matched(tmp_path: Path, order: ReplyOrder) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite(), sort_keys=False))
    config = EmulatorConfig(
        reply_order=order,
        seed=11,
        queue_seconds=0.02,
        evaluation_seconds=0.02,
        defaults=Behaviour(duration=(0.05, 0.1)),
        daily_rooms=tuple(StaticRoom(f"lab-{i}") for i in range(ROOMS)),
    )
    with Emulator(config) as emulator, contextlib.chdir(tmp_path):
        result = specrunner.run(
            str(path),
            environ=emulator.environment(),
            poll_interval=0.05,
            concurrency=ROOMS,
            batch_size=4,  # four scenarios per POST: an order can be wrong
        )
        made = {run.run_id: run.publish_data_message["run_key"] for run in emulator.ledger.runs}
        per_post = Counter(run.request_seq for run in emulator.ledger.runs)
    assert len(result.records) == 12
    assert all(record.run_id is not None for record in result.records), result.records
    assert {made[record.run_id] for record in result.records if record.run_id} == {
        record.key for record in result.records
    }
    for record in result.records:
        assert made[record.run_id] == record.key, record
    assert all(r.outcome.value in ("passed", "failed") for r in result.records)
    assert max(per_post.values()) > 1, "every POST had one entry: the order was not tested"
