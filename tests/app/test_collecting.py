"""While a suite runs the garbage collector looks at fewer objects; after it, a program
that called specrunner has its own settings back."""

from __future__ import annotations

import gc

import pytest

from specrunner.app.collecting import YOUNG_OBJECTS, few_collections


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
