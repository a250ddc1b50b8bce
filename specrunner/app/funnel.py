"""The one funnel from every way a command can end to an exit code and one message.

A message may quote a server (Cekura's `detail`, a room source's answer) or a suite: every
line it prints goes through `specrunner.text.visible`, so control characters (escape
sequences) and bidi controls are shown as escapes, never obeyed by the terminal."""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from specrunner.errors import ExitCode, SpecrunnerError, SuiteError
from specrunner.masking import MASK
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


def guard(action: Callable[[], int | None], err: Callable[[str], None]) -> int:
    """Run a command; map every way it can end to an exit code, printing one message (and
    the exception's notes: where a run that got under way left its run directory)."""

    def say(line: str) -> None:
        err(visible(line))

    try:
        code = action()
    except SuiteError as error:
        for diagnostic in error.diagnostics:
            say(str(diagnostic))
        files = sorted({d.file for d in error.diagnostics})
        count = len(error.diagnostics)
        say(f"{count} error{'s' if count != 1 else ''} in {', '.join(files)}")
        return error.exit_code
    except SpecrunnerError as error:
        say(f"specrunner: error: {error}")
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


def scrub_environment_values(text: str, environ: Mapping[str, str]) -> str:
    """Mask every environment value that might be a secret (any value of 8+ characters)."""
    values = sorted(
        (v for k, v in environ.items() if k not in _NOT_SECRET_ENV and len(v) >= 8),
        key=len,
        reverse=True,
    )
    for value in values:
        text = text.replace(value, MASK)
    return text
