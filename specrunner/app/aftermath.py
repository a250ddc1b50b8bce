"""What a run that ends says about what it leaves: the files it wrote, its run directory,
the runs still live in Cekura or never sent, and the exact commands that follow them up.
Paths are shown relative to the working directory where they are under it, as a person
would type them."""

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


def shown_path(path: Path | str, cwd: Path) -> str:
    """`path` relative to `cwd` when it is under it; otherwise as it is."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def closing_lines(
    run_dir: Path | None,
    records: Sequence[RunRecord],
    written: Sequence[Path | str],
    *,
    cwd: Path,
    step_summary: bool = False,
) -> list[str]:
    """The lines every run ends with: each file it wrote, and once it has a run directory,
    the directory and (when runs are live or unsent) how to resume or cancel it."""
    lines = [f"wrote {shown_path(path, cwd)}" for path in written]
    if step_summary:
        # The variable's name, not its value: nothing read from the environment is shown.
        lines.append("appended the summary to $GITHUB_STEP_SUMMARY")
    if run_dir is None:
        return lines
    shown = shown_path(run_dir, cwd)
    lines.append(f"run directory: {shown}")
    left = Leftovers.of(records)
    where = shlex.quote(shown)
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
