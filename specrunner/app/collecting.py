"""How the garbage collector runs while a suite is planned and while it runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_OBJECTS = 10_000
"""While a suite runs, the young objects the collector lets gather (700 by default)
before it looks for cycles among them."""


@contextmanager
def few_collections() -> Iterator[None]:
    """While a suite runs, the objects made before it (modules, the plan) are frozen out
    of the cyclic garbage collector's sight, young objects are collected less often, and
    what outlives a collection of young objects is frozen too. A run makes few reference
    cycles (about a thousand objects in a 10,000-run suite) but many objects that live to
    its end (each run's record and what Cekura said of it), which the default collector
    walks again and again: 1.9 s of the CPU of a 10,000-run suite at first, 0.2 s with
    the first two, next to nothing with all three. Planning is alike (the suite's tree,
    then the runs, all kept): `app.planning.plan` works under it too. Undone after (the
    frozen objects go back to the oldest generation, where a cycle that became garbage
    meanwhile is collected), so that a program calling `specrunner.run` keeps its own
    settings."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *thresholds[1:])
    gc.callbacks.append(_freeze_survivors)
    try:
        yield
    finally:
        gc.callbacks.remove(_freeze_survivors)
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    """After a collection of young objects, the objects it left (alive, so likely to live
    on) are frozen: no later collection walks them again."""
    if phase == "stop" and info["generation"] == 0:
        gc.freeze()
