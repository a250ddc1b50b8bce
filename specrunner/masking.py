"""Secrets: every value read from `env`, masked as `***` wherever specrunner shows it.

`Secrets` is an immutable set of secret values and the ways to hide them; a `Plan` holds
the ones compiling saw. `SecretTracker` is what records them while templates render: the
compiler has one, and each room source rendered at run time has its own, so the secrets a
run discovers travel explicitly (`RoomConfig.secrets`) instead of changing the plan.

Free text is searched for more than the values themselves: for the common encodings of each
secret (upper and lower case, reversed, base64, URL and JSON escaping, HTML escaping), since
a server or a tool may echo a secret in one of them, and for the values a template computed
from a secret (`derived`), which the template engine records.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
# Free text (logs, messages) is searched for secrets at least this long; shorter values
# are still masked wherever they stand as a value of their own.
MIN_TEXT_SECRET = 4
# At most this many values computed from secrets are searched for in free text (each of at
# most this many characters): beyond, the display masks them still, but free text does not.
MAX_DERIVED = 10_000
MAX_DERIVED_LENGTH = 10_000
# Up to this many strings to hide, `Secrets.found_in` looks for each with `in` (a fast
# substring search) rather than for all of them at once with a pattern.
FEW_STRINGS = 8


def secret_forms(value: str) -> set[str]:
    """The ways `value` may be written by something that echoes it, other than as is."""
    raw = value.encode("utf-8", errors="surrogatepass")
    forms = {value.upper(), value.lower(), value[::-1], html.escape(value)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms.update((text, text.rstrip("=")))
    forms.update((quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]))
    forms.discard(value)
    return forms


def _pattern(strings: list[str]) -> re.Pattern[str]:
    """One pattern for any of `strings`, the longest where several start at one place.

    It is a trie (`ab(?:c|d(?:e)?)`): matching costs the length of what matches, not the
    number of strings, so a thousand hidden values cost little more than one. A trie too
    deep for `re` (strings branching at hundreds of places) falls back to a plain list.
    """
    trie: dict[str, Any] = {}
    for text in strings:
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node[_END] = {}
    try:
        return re.compile(_trie_pattern(trie, 0))
    except (_TooDeep, RecursionError):
        ordered = sorted(strings, key=len, reverse=True)
        return re.compile("|".join(re.escape(v) for v in ordered))


_END = ""  # a trie's key for "a string ends here" (no character is empty)
_MAX_TRIE_DEPTH = 100


class _TooDeep(Exception):
    pass


def _trie_pattern(node: dict[str, Any], depth: int) -> str:
    if depth > _MAX_TRIE_DEPTH:
        raise _TooDeep
    branches = []
    for char in sorted(k for k in node if k != _END):
        literal = [re.escape(char)]
        child = node[char]
        while len(child) == 1 and _END not in child:  # a run without branches: one literal
            ((char, child),) = child.items()
            literal.append(re.escape(char))
        branches.append("".join(literal) + _trie_pattern(child, depth + 1))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body  # greedy: the longer match first


class _Hidden:
    """A part of what a `Secrets` hides, searched for with one pattern (per minimum length).

    Parts are shared: the `Secrets` a tracker makes after finding one more secret holds the
    parts made before and a small new one, so that only the new strings are compiled.
    """

    __slots__ = ("_patterns", "texts", "values")

    def __init__(self, values: frozenset[str], texts: frozenset[str]) -> None:
        self.values = values
        """Secrets: hidden when at least as long as the caller asks."""
        self.texts = texts
        """Encodings of secrets and derived values (MIN_TEXT_SECRET characters or more)."""
        self._patterns: dict[int, re.Pattern[str] | None] = {}

    @classmethod
    def of(cls, values: Iterable[str], derived: Iterable[str] = ()) -> _Hidden:
        values = frozenset(values)
        texts = {v for v in derived if len(v) >= MIN_TEXT_SECRET}
        for value in values:
            if len(value) >= MIN_TEXT_SECRET:
                texts.update(f for f in secret_forms(value) if len(f) >= MIN_TEXT_SECRET)
        return cls(values, frozenset(texts - values))

    def __len__(self) -> int:
        return len(self.values) + len(self.texts)

    def merged(self, other: _Hidden) -> _Hidden:
        values = self.values | other.values
        return _Hidden(values, (self.texts | other.texts) - values)

    def strings(self, min_length: int) -> list[str]:
        """What `pattern(min_length)` looks for."""
        return [v for v in self.values if len(v) >= min_length] + list(self.texts)

    def pattern(self, min_length: int) -> re.Pattern[str] | None:
        if min_length not in self._patterns:
            strings = self.strings(min_length)
            self._patterns[min_length] = _pattern(strings) if strings else None
        return self._patterns[min_length]


def _add_part(parts: list[_Hidden], part: _Hidden) -> None:
    """Append `part`, merging the last parts while they are of like size: a few parts in
    all (sizes halving), each string compiled a few times over a tracker's life."""
    parts.append(part)
    while len(parts) > 1 and 2 * len(parts[-1]) >= len(parts[-2]):
        last = parts.pop()
        parts[-1] = parts[-1].merged(last)


def _redact(parts: Iterable[_Hidden], text: str, min_length: int) -> str:
    patterns = [p for part in parts if (p := part.pattern(min_length)) is not None]
    if not patterns:
        return text
    if len(patterns) == 1:
        return patterns[0].sub(MASK, text)
    spans: list[list[int]] = []  # what any part finds, overlaps joined: hidden as one
    for start, end in sorted(m.span() for p in patterns for m in p.finditer(text)):
        if spans and start < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    shown: list[str] = []
    last = 0
    for start, end in spans:
        shown += (text[last:start], MASK)
        last = end
    shown.append(text[last:])
    return "".join(shown)


class Secrets:
    """An immutable set of secret values, and the ways to hide them.

    `values` are the secrets themselves (what `in` answers for); `derived` are values
    computed from secrets, hidden in free text like the encodings of each value.
    """

    __slots__ = ("_derived", "_parts", "_values")

    def __init__(self, values: Iterable[str] = (), *, derived: Iterable[str] = ()) -> None:
        self._values: frozenset[str] = frozenset(str(v) for v in values if v)
        self._derived: frozenset[str] = frozenset(
            str(v) for v in derived if len(str(v)) >= MIN_TEXT_SECRET
        )
        self._parts: tuple[_Hidden, ...] = (_Hidden.of(self._values, self._derived),)

    @classmethod
    def _made_of(
        cls, values: frozenset[str], derived: frozenset[str], parts: tuple[_Hidden, ...]
    ) -> Secrets:
        secrets = cls.__new__(cls)
        secrets._values, secrets._derived, secrets._parts = values, derived, parts
        return secrets

    def plus(self, *others: Iterable[str]) -> Secrets:
        """These secrets and those of `others` (other `Secrets` or plain values)."""
        values = set(self._values)
        derived = set(self._derived)
        for other in others:
            values.update(other)
            if isinstance(other, Secrets):
                derived.update(other._derived)
        if len(values) == len(self._values) and len(derived) == len(self._derived):
            return self
        return Secrets(values, derived=derived)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Secrets)
            and other._values == self._values
            and other._derived == self._derived
        )

    def __hash__(self) -> int:
        return hash((self._values, self._derived))

    def values(self) -> frozenset[str]:
        return self._values

    @property
    def derived(self) -> frozenset[str]:
        """Values computed from secrets (hidden in free text, not secrets of their own)."""
        return self._derived

    def redact_text(self, text: str, *, min_length: int = MIN_TEXT_SECRET) -> str:
        """`text` with every secret of at least `min_length` characters replaced by ***,
        and every encoding of a secret and every derived value (4 characters or more)."""
        return _redact(self._parts, text, max(1, min_length))

    def found_in(self, text: str, *, min_length: int = MIN_TEXT_SECRET) -> bool:
        """Whether `redact_text` finds anything to hide in `text` (a search of a report's
        megabytes that nearly always finds nothing): a few strings are each looked for as
        they are, several times faster than one pattern of them; more, with the pattern."""
        length = max(1, min_length)
        strings = [s for part in self._parts for s in part.strings(length)]
        if len(strings) <= FEW_STRINGS:
            return any(s in text for s in strings)
        patterns = (part.pattern(length) for part in self._parts)
        return any(p is not None and p.search(text) is not None for p in patterns)

    def mask(self, value: Any) -> str:
        """What to show for a value derived from a secret: *** for all of it (a part
        could give the rest away, and even its shape says something)."""
        return MASK

    def redact(self, value: Any) -> Any:
        """A copy of JSON data with every secret in its strings (keys included) replaced
        by *** (a last net)."""
        if not any(self._parts):
            return value
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                shown = self.redact_text(key) if isinstance(key, str) else key
                if shown != key:
                    number = 2
                    base = shown
                    while shown in value or shown in out:  # two keys hidden alike
                        shown = f"{base} ({number})"
                        number += 1
                out[shown] = self.redact(item)
            return out
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value


class SecretTracker:
    """Records the secret values templates read while they render (see `EnvProxy`), and
    the values templates computed from them (`add_derived`)."""

    __slots__ = ("_current", "_derived", "_found", "_parts", "_value_parts", "_values")

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._current: Secrets | None = None
        self._found: tuple[set[str], set[str]] = (set(), set())  # not in a part yet
        if isinstance(known, Secrets):
            self._values, self._derived = set(known.values()), set(known.derived)
            self._parts = list(known._parts)
            self._current = known
        else:
            self._values, self._derived = {str(v) for v in known if v}, set()
            self._parts = [_Hidden.of(self._values)]
        self._value_parts = [_Hidden.of(self._values)]  # what `add_derived` looks for

    def add(self, value: str) -> None:
        value = str(value)
        if value and value not in self._values:
            self._values.add(value)
            self._found[0].add(value)
            self._current = None

    def add_derived(self, value: str) -> None:
        """Hide `value`, computed from a secret, in free text from now on, unless it is
        too short to tell apart or already shows a known secret (which free text hides)."""
        if len(value) < MIN_TEXT_SECRET or value in self._derived or value in self._values:
            return
        if len(self._derived) >= MAX_DERIVED or len(value) > MAX_DERIVED_LENGTH:
            return  # a last net, kept small enough to search every text with
        self._flush()
        if _redact(self._value_parts, value, MIN_TEXT_SECRET) != value:
            return
        self._derived.add(value)
        self._found[1].add(value)
        self._current = None

    def _flush(self) -> None:
        values, derived = self._found
        if values:
            part = _Hidden.of(values)
            _add_part(self._value_parts, part)
            _add_part(self._parts, part)
        if derived:
            _add_part(self._parts, _Hidden.of((), derived))
        self._found = (set(), set())

    def __contains__(self, value: object) -> bool:
        return value in self._values

    @property
    def secrets(self) -> Secrets:
        """The secrets recorded so far, as an immutable set."""
        if self._current is None:
            self._flush()
            self._current = Secrets._made_of(
                frozenset(self._values), frozenset(self._derived), tuple(self._parts)
            )
        return self._current
