"""The few exceptions specrunner raises on purpose, each with its exit code.

`app/funnel.py` is the one place that turns them into messages and exit codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class ExitCode:
    OK = 0
    EXPECTATIONS_NOT_MET = 1
    INVALID = 2
    REMOTE = 3
    INTERNAL = 4
    INTERRUPTED = 130


@dataclass(frozen=True, slots=True, order=True)
class Diagnostic:
    """One problem in a suite, located at a file, line and column (1-based), and, where
    the usual cause is known, a one-line hint at the fix (shown under the source line)."""

    file: str
    line: int
    col: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class SpecrunnerError(Exception):
    exit_code: int = ExitCode.INTERNAL


class UsageError(SpecrunnerError):
    """A bad command-line option or argument, not tied to a suite file."""

    exit_code = ExitCode.INVALID


class SuiteError(SpecrunnerError):
    """One or more located problems in a suite file."""

    exit_code = ExitCode.INVALID

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(set(diagnostics)))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class RemoteError(SpecrunnerError):
    """The remote side stopped the run: bad credentials, unreachable, refused."""

    exit_code = ExitCode.REMOTE


class NotConfirmed(SpecrunnerError):
    """Asked whether to send a run that may spend much, the user did not say yes: nothing
    was sent. Exit 130, as for Ctrl-C: the user stopped it (1 would say a cell failed)."""

    exit_code = ExitCode.INTERRUPTED
