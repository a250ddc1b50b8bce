"""The run journal: one JSON line per event, flushed to disk before the next step.

Before a POST the journal holds its intent (which runs, which rooms); after it, the result
and run ids, or why it failed. So after a crash, `kill -9` or Ctrl-C the journal tells,
for every planned run, whether it was never sent (safe to send), may have been sent
(`unknown`: never sent again), exists (poll it), or is final. It never holds a secret:
no token, key or payload.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JOURNAL = "journal.jsonl"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"type": kind, **fields}, ensure_ascii=False, separators=(",", ":"))
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


@dataclass(slots=True)
class RunState:
    """What the journal says about one planned run."""

    key: str
    batch: int | None = None
    run_id: int | None = None
    result_id: int | None = None
    room: Mapping[str, Any] | None = None
    released: bool = False
    unknown: str | None = None
    error: str | None = None
    final: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Replay:
    """The journal read back: the run's start record and each run's last known state."""

    start: Mapping[str, Any]
    runs: dict[str, RunState] = field(default_factory=dict)
    batches: int = 0


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete record; a last line cut short by a crash is ignored."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                return
            try:
                record = json.loads(line)
            except ValueError:
                return
            if isinstance(record, dict):
                yield record


def replay(path: Path) -> Replay:
    records = read_records(path)
    start = next(records, None)
    if start is None or start.get("type") != "start":
        raise ValueError(f"{path} does not start with a start record")
    state = Replay(start, {key: RunState(key) for key in start["keys"]})
    intents: dict[int, list[str]] = {}
    for record in records:
        kind = record["type"]
        if kind == "intent":
            batch = int(record["batch"])
            state.batches = max(state.batches, batch)
            intents[batch] = list(record["keys"])
            for key in record["keys"]:
                run = state.runs[key]
                run.batch, run.unknown, run.error = batch, None, None
                run.room = record.get("rooms", {}).get(key)
                run.released = False
        elif kind == "submitted":
            for key, run_id in record["runs"].items():
                run = state.runs[key]
                run.run_id, run.result_id = int(run_id), int(record["result_id"])
        elif kind in ("not_sent", "rejected", "unknown"):
            keys = record.get("keys") or intents.get(int(record.get("batch", -1)), [])
            for key in keys:
                run = state.runs[key]
                if kind == "not_sent":
                    run.batch = None
                elif kind == "rejected":
                    run.error = record["reason"]
                else:
                    run.unknown = record["reason"]
        elif kind == "final":
            state.runs[record["key"]].final = record
        elif kind == "released":
            state.runs[record["key"]].released = True
    return state
