"""A yes/no question on a terminal, for `specrunner run` to ask before it spends much.

Asked only when stdin and the stream it is written to are both a terminal: with a pipe
or a file on either side (CI, scripts), there is no one to answer, and nothing is asked.
Only `y` or `yes` is yes; Enter, anything else, and the end of input (Ctrl-D) are no.
Ctrl-C interrupts (KeyboardInterrupt), at once.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import TextIO

WAKE = 0.2
"""Seconds between looks for an interrupt while waiting for the answer (see `_answer`)."""


def terminal_question(stdin: TextIO, shown: TextIO) -> Callable[[str], bool] | None:
    """A function that writes a question to `shown` and reads the answer from `stdin`,
    when both are a terminal; else None."""
    if not (_is_terminal(stdin) and _is_terminal(shown)):
        return None

    def ask(question: str) -> bool:
        try:
            shown.write(f"{question} [y/N] ")
            shown.flush()
            answer = _answer(stdin)
        except KeyboardInterrupt:
            _end_line(shown)
            raise
        if not answer:  # end of input
            _end_line(shown)
        return answer.strip().lower() in ("y", "yes")

    return ask


def _answer(stdin: TextIO) -> str:
    """A line of `stdin` ('' at its end). Waits in short selects on POSIX: a Ctrl-C that
    comes just before the read would otherwise wait for a line before it is seen (Python
    runs signal handlers between its own steps, and a read begun after the signal is not
    interrupted by it)."""
    if os.name == "posix":
        while not select.select([stdin], [], [], WAKE)[0]:
            pass
    return stdin.readline()


def _end_line(shown: TextIO) -> None:
    """End the line the question left open (no Enter ended it)."""
    shown.write("\n")
    shown.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, OSError, ValueError):  # closed or detached
        return False
