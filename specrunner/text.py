"""Text from outside (a server's answer, a room source, a suite) made safe to show.

`visible` is the one place that decides which characters may not reach a terminal or a
report raw: control characters (C0 but newline and tab, DEL, C1, so every escape sequence)
and the bidirectional controls that reorder what a reader sees (Trojan Source). Each is
shown as an escape instead: `\\x1b`, `\\u202e`. It imports nothing of specrunner, so the
reports and the error funnel can both use it.
"""

from __future__ import annotations

import re

# Bidi controls: embeddings and overrides, isolates, the marks, the Arabic letter mark.
BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def counted(count: int, noun: str) -> str:
    """`1 run`, `3 runs`: a count and its noun (one whose plural takes an s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def visible(text: str) -> str:
    """`text` with every control and bidi character shown as an escape; newlines and tabs
    are kept, so a multi-line text stays multi-line."""
    return _UNSAFE.sub(_escape, text)


def visible_in_json(text: str) -> str:
    """JSON text whose strings, once decoded, show bidi controls as escapes (a JSON
    encoder already escapes the control characters themselves)."""
    return re.sub(f"[{BIDI}]", lambda m: "\\" + _escape(m), text)
