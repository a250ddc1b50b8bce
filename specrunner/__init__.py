"""specrunner: a declarative test runner for Pipecat voice agents evaluated by Cekura."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from specrunner.version import __version__

if TYPE_CHECKING:
    from specrunner.app.running import RunResult

__all__ = ["__version__", "run"]


def run(
    suite: str | None = None, *, environ: Mapping[str, str] | None = None, **options: Any
) -> RunResult:
    """Run a suite as `specrunner run` does, and return its result.

    `options` are those of the command, by their Python names: the selection
    (`environment`, `sets`, `tags`, `scenarios`, `shard`) and `concurrency`,
    `batch_size`, `submissions`, `poll_interval`, `emulator`, `resume`, `dry_run`, `outputs`,
    `baseline`, `alpha` (docs/python-api.md lists them). `environ` is the environment to
    read secrets from (default: `os.environ`).

    `result.records` holds each run's outcome, Cekura ids and status; `result.exit_code`
    is what the command would exit with; `result.run_dir` is the run directory (for
    `resume=`). Invalid input raises `specrunner.errors.SuiteError` or `UsageError`; a
    remote refusal raises `RemoteError`; an unknown option is a TypeError.
    """
    from specrunner.app.running import RunRequest, execute  # `import specrunner` stays light

    environ = dict(os.environ) if environ is None else environ
    return execute(RunRequest.of(suite, environ=environ, **options))
