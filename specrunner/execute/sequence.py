"""The gate of sequential cells: which of their runs may be sent, and when they are done.

A sequential cell (`repeat: {min, max}`) sends its runs in repeat order. Its first `min`
go at once; past them, a run goes only while the cell is undecided and has fewer runs in
flight than the fewest results that could decide it (`StopRule.to_decide`), so that a run
is never sent that the results already on their way might make unneeded. So the cell
stops exactly where sending one run at a time would: at the first count of results,
from `min` on, that decides it. Runs sent before it was decided are followed to the end
and count. Once a decided cell has nothing in flight, its runs never sent are not needed.

Every step is a few counters and one `to_decide` (a binary search over at most `max`
runs), per result of a sequential run: no rescan of the plan.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from specrunner.execute.tracked import Tracked
from specrunner.models import Outcome
from specrunner.stopping import StopRule, stop_text


@dataclass(slots=True)
class _Cell:
    rule: StopRule
    waiting: deque[Tracked] = field(default_factory=deque)
    """Its runs not yet released, in repeat order."""
    passes: int = 0
    others: int = 0
    in_flight: int = 0
    """Released (waiting to be sent, or sent) and without an outcome."""

    @property
    def sent(self) -> int:
        return self.passes + self.others + self.in_flight


class Gate:
    """The sequential cells of a plan: their runs released to be sent, one result at a
    time. Runs of other cells never pass through it."""

    def __init__(self, runs: Iterable[Tracked]) -> None:
        self._cells: dict[str, _Cell] = {}
        waiting: list[Tracked] = []
        for run in runs:
            sequence = run.planned.sequence
            if sequence is None:
                continue
            cell = self._cells.get(sequence.cell)
            if cell is None:
                expect = sequence.expect
                rule = StopRule.of(
                    sequence.min,
                    sequence.max,
                    expect.pass_rate,
                    expect.min_passes,
                    expect.confidence,
                )
                cell = self._cells[sequence.cell] = _Cell(rule)
            if run.outcome is not None:  # a result an earlier process journaled
                self._count(cell, run.outcome)
            elif run.run_id is not None:  # live in Cekura, to be followed
                cell.in_flight += 1
            else:
                waiting.append(run)
        for run in sorted(waiting, key=lambda r: r.planned.repeat):
            assert run.planned.sequence is not None
            self._cells[run.planned.sequence.cell].waiting.append(run)
        self.open = sum(1 for cell in self._cells.values() if cell.waiting)
        """Cells with runs still to release: while there are any, more runs may come."""

    def start(self) -> tuple[list[Tracked], list[Tracked]]:
        """The runs to send first, and those already not needed (their cell decided by
        the results a journal holds)."""
        released: list[Tracked] = []
        unneeded: list[Tracked] = []
        for cell in self._cells.values():
            more, done = self._step(cell)
            released += more
            unneeded += done
        return released, unneeded

    def result(self, run: Tracked) -> tuple[list[Tracked], list[Tracked]]:
        """`run`, of a sequential cell, has its outcome: the runs its cell may send now,
        and those it no longer needs."""
        sequence = run.planned.sequence
        if sequence is None or run.outcome is None or run.outcome is Outcome.NOT_NEEDED:
            return [], []
        cell = self._cells[sequence.cell]
        cell.in_flight -= 1
        self._count(cell, run.outcome)
        return self._step(cell)

    @staticmethod
    def _count(cell: _Cell, outcome: Outcome) -> None:
        if outcome is Outcome.PASSED:
            cell.passes += 1
        elif outcome is not Outcome.NOT_NEEDED:
            cell.others += 1

    def _step(self, cell: _Cell) -> tuple[list[Tracked], list[Tracked]]:
        if not cell.waiting:
            return [], []
        rule = cell.rule
        released: list[Tracked] = []
        while cell.waiting:
            if cell.sent >= rule.min and cell.in_flight >= rule.to_decide(cell.passes, cell.others):
                break
            released.append(cell.waiting.popleft())
            cell.in_flight += 1
        if cell.waiting and not cell.in_flight:
            # Decided, nothing on its way: the runs left are not needed.
            decided = rule.decision(cell.passes, cell.others)
            assert decided is not None  # undecided, it would have released a run
            reason = (
                f"not needed: its cell was decided after {cell.sent} of {rule.max} runs ("
                f"{stop_text(decided.stop, rule, cell.sent, decided.met)})"
            )
            unneeded = list(cell.waiting)
            cell.waiting.clear()
            for run in unneeded:
                run.outcome, run.error = Outcome.NOT_NEEDED, reason
        else:
            unneeded = []
        if not cell.waiting:
            self.open -= 1
        return released, unneeded
