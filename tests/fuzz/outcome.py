"""What a fuzz case is, what running it gave, and what counts as going wrong.

A case is a suite file (bytes) and the commands to run on it. What a case may do: exit 0
or 2, print no traceback, never show the canary secret in any form, and stay within the
runner's time and memory bounds. Anything else is a problem, described in words a product
owner can act on (exit code, message, time, memory).
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CANARY = "canary-XYZ123"
"""The value of $SECRET while a case runs; suites read it as `env.SECRET`."""

SUITE_FILE = "suite.yaml"
"""The suite's file name in the case's folder; commands name it."""

EXIT_CODES = frozenset({0, 2})
"""`validate` and `plan` exit 0 (fine) or 2 (an invalid suite or option); never 4."""


def leak_forms(secret: str = CANARY) -> dict[str, str]:
    """The forms of `secret` that must never be shown, by name."""
    raw = secret.encode()
    return {
        "as is": secret,
        "upper-cased": secret.upper(),
        "lower-cased": secret.lower(),
        "reversed": secret[::-1],
        "base64": base64.b64encode(raw).decode().rstrip("="),
        "urlsafe base64": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "URL-encoded": urllib.parse.quote(secret, safe=""),
        "URL-encoded (plus)": urllib.parse.quote_plus(secret),
    }


_FORMS = leak_forms()


def leaks(text: str) -> list[str]:
    """What `text` shows of the canary, as problems (`the canary secret is shown reversed`)."""
    return [f"the canary secret is shown {name}" for name, form in _FORMS.items() if form in text]


def output_problems(text: str, exit_code: int | None, escaped: str | None = None) -> list[str]:
    """What is wrong with one command's output and exit code (`escaped`: an exception that
    got out of the CLI, which a terminal would show as a traceback)."""
    problems = []
    if exit_code not in EXIT_CODES:
        problems.append(f"exit code {exit_code} (expected 0 or 2)")
    if escaped is not None:
        problems.append(f"an exception escaped the CLI (a traceback in a terminal): {escaped}")
    if "Traceback" in text:
        problems.append("a traceback in the output")
    if "MemoryError" in text:
        problems.append("MemoryError: it ran into the memory bound")
    return problems + leaks(text)


@dataclass(frozen=True, slots=True)
class Case:
    """A suite file and the commands to run on it (argv after `specrunner`)."""

    family: str
    label: str
    suite: bytes
    commands: tuple[tuple[str, ...], ...]

    def to_json(self) -> dict[str, Any]:
        try:
            suite: dict[str, str] = {"text": self.suite.decode("utf-8")}
        except UnicodeDecodeError:
            suite = {"base64": base64.b64encode(self.suite).decode()}
        return {
            "family": self.family,
            "label": self.label,
            "suite": suite,
            "commands": [list(c) for c in self.commands],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Case:
        suite = data["suite"]
        raw = suite["text"].encode() if "text" in suite else base64.b64decode(suite["base64"])
        return cls(data["family"], data["label"], raw, tuple(tuple(c) for c in data["commands"]))


@dataclass(frozen=True, slots=True)
class Ran:
    """One command of a case: its exit code (None when it was killed), time, problems, and
    the start of its output."""

    args: tuple[str, ...]
    exit_code: int | None
    seconds: float
    problems: tuple[str, ...]
    head: str


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    ran: tuple[Ran, ...]
    problems: tuple[str, ...]
    """Every problem of the case: its commands' and its process's (killed, died)."""
    peak_bytes: int
    """Peak resident memory: a new process's, or how far a forked child's grew past its
    parent's."""
    crashes: tuple[str, ...] = field(default=())
    """The last lines of each crash report the CLI wrote."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def slowest(self) -> float:
        return max((r.seconds for r in self.ran), default=0.0)

    def describe(self) -> str:
        """The case and what went wrong, for a failure message or a file."""
        lines = [f"[{self.case.family}] {self.case.label}"]
        for ran in self.ran:
            code = "killed" if ran.exit_code is None else f"exit {ran.exit_code}"
            lines.append(f"  specrunner {shown_args(ran.args)}: {code}, {ran.seconds:.2f} s")
            lines += [f"    - {p}" for p in ran.problems]
            if ran.problems and ran.head:
                lines.append(f"    output: {ran.head!r}")
        if len(self.ran) < len(self.case.commands):
            lines.append(f"  (not run: {len(self.case.commands) - len(self.ran)} more commands)")
        shown = {p for r in self.ran for p in r.problems}
        lines += [f"  - {p}" for p in self.problems if p not in shown]
        lines.append(f"  peak memory: {self.peak_bytes / 2**20:.0f} MiB")
        lines += [f"  crash report: {c}" for c in self.crashes]
        return "\n".join(lines)


def shown_args(args: Sequence[str]) -> str:
    return " ".join(a if len(a) <= 60 else f"{a[:40]!r}...({len(a)} chars)" for a in args)
