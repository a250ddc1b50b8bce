"""specrunner: a declarative test runner for Pipecat voice agents evaluated by Cekura."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from specrunner.execute.runner import RunResult

__version__ = "0.1.0"


def run(
    suite: str | None = None,
    *,
    environment: str | None = None,
    sets: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    scenarios: tuple[str, ...] = (),
    shard: str | None = None,
    concurrency: int = 10,
    batch_size: int = 10,
    poll_interval: float = 1.0,
    emulator: bool = False,
    resume: str | None = None,
    dry_run: bool = False,
    outputs: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> RunResult:
    """Run a suite as `specrunner run` does, and return its result.

    `result.records` holds each run's outcome, Cekura ids and status; `result.exit_code`
    is what the command would exit with; `result.run_dir` is the run directory (for
    `resume=`). Invalid input raises `specrunner.errors.SuiteError` or `UsageError`; a
    remote refusal raises `RemoteError`.
    """
    import os

    from specrunner.execute.runner import RunRequest, execute

    return execute(
        RunRequest(
            suite=suite,
            environment=environment,
            sets=sets,
            tags=tags,
            scenarios=scenarios,
            shard=shard,
            concurrency=concurrency,
            batch_size=batch_size,
            poll_interval=poll_interval,
            emulator=emulator,
            resume=resume,
            dry_run=dry_run,
            outputs=outputs,
            environ=dict(os.environ) if environ is None else environ,
        )
    )
