"""What execution makes of each planned run: its outcome, Cekura's ids and status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    UNKNOWN = "unknown"
    NOT_RUN = "not_run"


CEKURA_FINAL = frozenset({"completed", "failed", "timeout", "cancelled"})


@dataclass(frozen=True, slots=True)
class RunRecord:
    key: str
    scenario_id: int
    scenario: str
    cell: Mapping[str, Any]
    repeat: int
    outcome: Outcome
    status: str | None = None
    """Cekura's status of the run, when it has one."""
    run_id: int | None = None
    result_id: int | None = None
    error: str | None = None
    cekura: Mapping[str, Any] | None = None
    """The last Run object Cekura returned for it."""


def outcome_of(run: Mapping[str, Any]) -> tuple[Outcome, str | None] | None:
    """The outcome of a Cekura Run object, or None while it is not final."""
    status = run.get("status")
    if status not in CEKURA_FINAL:
        return None
    if status == "completed":
        if run.get("success") is True:
            return Outcome.PASSED, None
        return Outcome.FAILED, None
    message = run.get("error_message") or f"the run ended {status}"
    return Outcome.ERROR, f"Cekura: {message}"
