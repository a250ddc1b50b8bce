"""What a run that ends says about what it leaves: its run directory, the runs still live
in Cekura or never sent, and the exact commands that follow them up."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from specrunner.models import Outcome, RunRecord


@dataclass(frozen=True, slots=True)
class Leftovers:
    live: int
    """Runs that exist in Cekura and were not followed to a final status."""
    unsent: int
    """Runs never sent (`--resume` sends them)."""

    @classmethod
    def of(cls, records: Sequence[RunRecord]) -> Leftovers:
        live = sum(1 for r in records if r.outcome is Outcome.UNKNOWN and r.run_id is not None)
        return cls(live, sum(1 for r in records if r.unsent))


def closing_lines(
    run_dir: Path | None, records: Sequence[RunRecord], written: Sequence[str]
) -> list[str]:
    """The lines every run ends with once it has a run directory: the reports written,
    the directory, and (when runs are live or unsent) how to resume or cancel it."""
    lines = [f"report: {path}" for path in written]
    if run_dir is None:
        return lines
    lines.append(f"run directory: {run_dir}")
    left = Leftovers.of(records)
    where = shlex.quote(str(run_dir))
    if left.live:
        unsent = f" and {left.unsent} never sent" if left.unsent else ""
        lines.append(
            f"left: {left.live} run{'s' if left.live != 1 else ''} still live in Cekura"
            f"{unsent}. To follow them to the end (and send the rest):"
        )
        lines.append(f"  specrunner run --resume {where}")
        lines.append("or to end them and give their rooms back:")
        lines.append(f"  specrunner cancel {where}")
    elif left.unsent:
        lines.append(
            f"left: {left.unsent} run{'s' if left.unsent != 1 else ''} never sent. To send them:"
        )
        lines.append(f"  specrunner run --resume {where}")
    return lines
