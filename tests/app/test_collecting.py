"""While a suite runs the garbage collector looks at fewer objects; after it, a program
that called specrunner has its own settings back."""

from __future__ import annotations

import contextlib
import gc
from pathlib import Path

import pytest

from conftest import dump
from specrunner.app.collecting import YOUNG_OBJECTS, few_collections
from specrunner.app.planning import PlanRequest, plan
from specrunner.errors import SuiteError


def test_the_collector_is_as_it_was_after_the_run_even_after_an_error() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold()[0] == YOUNG_OBJECTS
        assert gc.get_freeze_count() > frozen  # what existed before is out of its sight
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_the_run_are_still_collected() -> None:
    class Node:
        pass

    with few_collections():
        node = Node()
        node.self = node  # type: ignore[attr-defined]
        del node
        assert gc.collect() >= 1


def _suite(tmp_path: Path, runs: int, *, valid: bool = True) -> str:
    suite = {
        "version": 1,
        "name": "collected",
        "rooms": {"lab": {"source": "static", "url": "https://acme.daily.co/lab"}},
        "defaults": {"repeat": 20, "publish_data_message": {"run_key": "{{ run.key }}"}},
        "scenarios": [{"id": 30 + i, "name": f"s{i}"} for i in range(runs // 20)],
    }
    if not valid:
        suite["scenarios"][-1]["publish_data_message"] = {"k": "{{ run.nope }}"}
    path = tmp_path / "suite.yaml"
    path.write_text(dump(suite), encoding="utf-8")
    return str(path)


def test_planning_leaves_the_collector_alone_while_it_makes_the_runs(tmp_path: Path) -> None:
    # Planning makes objects that all live on: the collector, left at its defaults, would
    # go through them again and again (a few times per thousand runs).
    path = _suite(tmp_path, 4000)
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        planned = plan(PlanRequest(path), environ={})
    finally:
        gc.callbacks.remove(count)
    assert len(planned.runs) == 4000
    assert len(collections) <= 4000 * 20 // YOUNG_OBJECTS, collections


@pytest.mark.parametrize("valid", [True, False])
def test_the_collector_is_as_it_was_after_planning(tmp_path: Path, valid: bool) -> None:
    path = _suite(tmp_path, 40, valid=valid)
    before = gc.get_threshold()
    with contextlib.nullcontext() if valid else pytest.raises(SuiteError):
        plan(PlanRequest(path), environ={})
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
