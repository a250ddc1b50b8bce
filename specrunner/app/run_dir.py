"""A run's directory, `.specrunner/runs/<run-id>/` under the working directory.

It holds the journal (`journal.jsonl`, see execute/journal.py) and the JSON report
(`results.json`). The journal's first record says what was planned: the `PlanRequest`
(its suite resolved, its environment the one the plan used) and the planned run keys, so
that `--resume RUN_DIR` rebuilds the same plan and takes up from there.
"""

from __future__ import annotations

import dataclasses
import datetime
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specrunner.app.planning import PlanRequest
from specrunner.errors import UsageError
from specrunner.execute.journal import JOURNAL, Journal, replay
from specrunner.models import Plan
from specrunner.version import __version__

RESULTS = "results.json"


@dataclass(frozen=True, slots=True)
class Resumed:
    """A run directory to continue, and what its journal's start record says."""

    run_dir: Path
    request: PlanRequest
    keys: tuple[str, ...]
    started_at: str | None


def create(workdir: Path, request: PlanRequest, plan: Plan, started_at: str) -> Path:
    """A new run directory, its journal started with the plan's request and keys."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = workdir / ".specrunner" / "runs" / f"{plan.suite_name}-{stamp}-{secrets.token_hex(2)}"
    run_dir.mkdir(parents=True)
    planned = dataclasses.replace(
        request, suite=str(Path(plan.suite_file).resolve()), environment=plan.environment
    )
    journal = Journal(run_dir / JOURNAL)
    journal.write(
        "start",
        version=1,
        specrunner=__version__,
        started_at=started_at,
        request=planned.as_json(),
        keys=[run.key for run in plan.runs],
    )
    journal.close()
    return run_dir


def resume(path: str) -> Resumed:
    """The run directory `path` and its start record; a UsageError when it is not one."""
    run_dir = Path(path)
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(
            f"--resume {path}: no {JOURNAL} there; give the run "
            "directory that `specrunner run` printed"
        )
    try:
        start: Mapping[str, Any] = replay(journal).start
        return Resumed(
            run_dir,
            PlanRequest.from_json(start["request"]),
            tuple(start["keys"]),
            start.get("started_at"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--resume {path}: the journal cannot be read ({exc})") from None
