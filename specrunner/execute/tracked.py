"""What the executor knows of each planned run while it runs, and the record it makes of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from specrunner.models import Outcome, PlannedRun, RunRecord
from specrunner.rooms.base import RoomLease

STILL_LIVE = "still running in Cekura when specrunner stopped: resume to follow it"
CUT_OFF = (
    "its submission was cut off when specrunner stopped: it may exist in Cekura, so it "
    "is not sent again"
)


@dataclass(slots=True)
class Tracked:
    planned: PlannedRun
    outcome: Outcome | None = None
    status: str | None = None
    run_id: int | None = None
    result_id: int | None = None
    error: str | None = None
    lease: RoomLease | None = None
    submitted_at: float | None = None
    cekura: dict[str, Any] | None = None
    holds_slot: bool = False
    sending: bool = False
    """Its POST is in flight: it may exist in Cekura, whatever happens next."""
    final: bool = False
    """Its outcome is journaled as final: `--resume` leaves it as it is."""

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
