"""The one funnel from every way a command can end to an exit code and one message.

A message may quote a server (Cekura's `detail`, a room source's answer) or a suite: every
line it prints goes through `specrunner.text.visible`, so control characters (escape
sequences) and bidi controls are shown as escapes, never obeyed by the terminal.

A located problem (`SuiteError`) is shown with the line of the file it points at and a
caret under the column (`specrunner.diagnostic_view`), coloured when `colour` is set: the
CLI sets it for a terminal, never for a pipe or with NO_COLOR."""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from specrunner.diagnostic_view import count_line, error_label, render
from specrunner.errors import ExitCode, NotConfirmed, SpecrunnerError, SuiteError
from specrunner.masking import MASK
from specrunner.source_lines import SourceLines
from specrunner.text import visible

_NOT_SECRET_ENV = {
    "PATH",
    "HOME",
    "PWD",
    "OLDPWD",
    "SHELL",
    "TERM",
    "LANG",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "HOSTNAME",
    "SHLVL",
    "_",
}


def guard(
    action: Callable[[], int | None],
    err: Callable[[str], None],
    *,
    colour: bool = False,
    environ: Mapping[str, str] | None = None,
) -> int:
    """Run a command; map every way it can end to an exit code, printing one message (and
    the exception's notes: where a run that got under way left its run directory).

    `environ` (default: the process's) holds the values no source line may show."""

    def say(line: str) -> None:
        err(visible(line))

    try:
        code = action()
    except SuiteError as error:
        show_diagnostics(error, err, colour=colour, environ=environ)
        return error.exit_code
    except NotConfirmed as error:  # the user's answer, not an error
        say(f"specrunner: {error}")
        return error.exit_code
    except SpecrunnerError as error:
        err(f"specrunner: {error_label(colour)} {visible(str(error))}")
        _notes(error, say)
        return error.exit_code
    except KeyboardInterrupt as error:
        say("specrunner: interrupted")
        _notes(error, say)
        return ExitCode.INTERRUPTED
    except Exception as error:  # the last resort: never a traceback on the terminal
        where = write_crash_report(error)
        say(
            f"specrunner: internal error: {type(error).__name__}; details written to {where}. "
            "Please report it with that file."
        )
        _notes(error, say)
        return ExitCode.INTERNAL
    return ExitCode.OK if code is None else code


def show_diagnostics(
    error: SuiteError,
    err: Callable[[str], None],
    *,
    colour: bool = False,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Each problem with its source line, sorted by file and position, then their count."""
    sources = SourceLines()
    secrets = environment_secrets(os.environ if environ is None else environ)
    for diagnostic in error.diagnostics:
        line = sources.line(diagnostic.file, diagnostic.line)
        for text in render(diagnostic, line, colour=colour, secrets=secrets):
            err(text)
    files = sorted({d.file for d in error.diagnostics})
    count = len(error.diagnostics)
    err(count_line(f"{count} error{'s' if count != 1 else ''} in {', '.join(files)}", colour))


def _notes(error: BaseException, err: Callable[[str], None]) -> None:
    for note in getattr(error, "__notes__", ()):
        err(str(note))


def write_crash_report(error: BaseException, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    text = "".join(traceback.format_exception(error))
    text = scrub_environment_values(text, environ)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    name = f"crash-{stamp}-{os.getpid()}.log"
    argv = scrub_environment_values(" ".join(sys.argv), environ)
    header = f"specrunner internal error\nargv: {argv}\n\n"
    for folder in (Path(".specrunner"), Path(tempfile.gettempdir()) / "specrunner"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(header + text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path(os.devnull)  # pragma: no cover - nowhere writable at all


def environment_secrets(environ: Mapping[str, str]) -> frozenset[str]:
    """The environment values that might be secrets: any value of 8+ characters but those
    of the few variables that never hold one (PATH, HOME, ...)."""
    return frozenset(v for k, v in environ.items() if k not in _NOT_SECRET_ENV and len(v) >= 8)


def scrub_environment_values(text: str, environ: Mapping[str, str]) -> str:
    """Mask every environment value that might be a secret (any value of 8+ characters)."""
    for value in sorted(environment_secrets(environ), key=len, reverse=True):
        text = text.replace(value, MASK)
    return text
