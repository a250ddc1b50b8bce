"""What the executor knows of each planned run while it runs, and the record it makes of it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from specrunner.models import Outcome, PlannedRun, RunRecord
from specrunner.rooms.base import RoomLease

STILL_LIVE = "still running in Cekura when specrunner stopped: resume to follow it"
CUT_OFF = (
    "its submission was cut off when specrunner stopped: it may exist in Cekura, so it "
    "is not sent again"
)


class Tally:
    """The runs by outcome, and the live ones, kept as each run changes (see `Tracked`), so
    that progress and the poll loop never rescan every run."""

    __slots__ = ("decided", "live", "outcomes")

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.decided = 0
        """Runs with an outcome (final or not)."""
        self.live: dict[str, Tracked] = {}
        """Runs sent to Cekura and not final, in the order they became live."""

    def outcome_changed(self, old: Outcome | None, new: Outcome | None) -> None:
        if old is not None:
            self.outcomes[old.value] -= 1
            if not self.outcomes[old.value]:
                del self.outcomes[old.value]
            self.decided -= 1
        if new is not None:
            self.outcomes[new.value] += 1
            self.decided += 1

    def liveness_changed(self, run: Tracked, was_live: bool) -> None:
        if run.live and not was_live:
            self.live[run.planned.key] = run
        elif was_live and not run.live:
            del self.live[run.planned.key]


@dataclass(slots=True)
class Tracked:
    planned: PlannedRun
    tally: Tally | None = field(default=None, repr=False)
    """Told of every change of outcome and liveness."""
    _outcome: Outcome | None = None
    status: str | None = None
    _run_id: int | None = None
    result_id: int | None = None
    error: str | None = None
    lease: RoomLease | None = None
    submitted_at: float | None = None
    seen_live_at: float | None = None
    """When the last poll that found it still going was sent."""
    cekura: dict[str, Any] | None = None
    holds_slot: bool = False
    sending: bool = False
    """Its POST is in flight: it may exist in Cekura, whatever happens next."""
    final: bool = False
    """Its outcome is journaled as final: `--resume` leaves it as it is."""

    @property
    def outcome(self) -> Outcome | None:
        return self._outcome

    @outcome.setter
    def outcome(self, value: Outcome | None) -> None:
        old, was_live = self._outcome, self.live
        self._outcome = value
        if self.tally is not None and old is not value:
            self.tally.outcome_changed(old, value)
            self.tally.liveness_changed(self, was_live)

    @property
    def run_id(self) -> int | None:
        return self._run_id

    @run_id.setter
    def run_id(self, value: int | None) -> None:
        was_live = self.live
        self._run_id = value
        if self.tally is not None:
            self.tally.liveness_changed(self, was_live)

    @property
    def live(self) -> bool:
        """Sent to Cekura, and not final."""
        return self.run_id is not None and self.outcome is None

    @property
    def unsent(self) -> bool:
        """Never sent, and not being sent: its room (if any) may be given back."""
        return self.run_id is None and not self.sending and self.outcome is not Outcome.UNKNOWN

    def record(self) -> RunRecord:
        outcome, error = self.outcome, self.error
        unsent = self.run_id is None and not self.sending and not self.final
        unsent = unsent and outcome in (None, Outcome.NOT_RUN, Outcome.ERROR)
        if outcome is None:
            if self.run_id is not None:
                outcome, error = Outcome.UNKNOWN, error or STILL_LIVE
            elif self.sending:
                outcome, error = Outcome.UNKNOWN, error or CUT_OFF
            else:
                outcome, error = Outcome.NOT_RUN, error or "not submitted"
        return RunRecord.of(
            self.planned,
            outcome,
            status=self.status,
            run_id=self.run_id,
            result_id=self.result_id,
            error=error,
            cekura=self.cekura,
            unsent=unsent,
        )
