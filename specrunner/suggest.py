"""'Did you mean ...?' hints for unknown keys, names and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, candidates: Iterable[str]) -> str | None:
    pool = {str(c) for c in candidates}
    if not pool:
        return None
    lowered = {c.lower(): c for c in pool}
    if word.lower() in lowered:
        return lowered[word.lower()]
    found = difflib.get_close_matches(word, sorted(pool), n=1, cutoff=0.6)
    if found:
        return found[0]
    found = difflib.get_close_matches(word.lower(), sorted(lowered), n=1, cutoff=0.6)
    return lowered[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """'; did you mean 'x'?' when a candidate is close to `word`, else ''."""
    match = closest(word, candidates)
    return f"; did you mean {match!r}?" if match is not None and match != word else ""


def one_of(values: Iterable[object]) -> str:
    shown = [repr(v) if isinstance(v, str) else str(v) for v in values]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def listing(what: str, names: list[str]) -> str:
    """' (rooms: a, b)': the known names, to follow a message about an unknown one."""
    return f" ({what}: {', '.join(names)})" if names else ""
