"""Secrets: every value read from `env`, masked as `***` wherever specrunner shows it.

`Secrets` is an immutable set of secret values and the ways to hide them; a `Plan` holds
the ones compiling saw. `SecretTracker` is what records them while templates render: the
compiler has one, and each room source rendered at run time has its own, so the secrets a
run discovers travel explicitly (`RoomConfig.secrets`) instead of changing the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "***"
# Free text (logs, messages) is searched for secrets at least this long; shorter values
# are still masked wherever they stand as a value of their own.
MIN_TEXT_SECRET = 4


class Secrets:
    """An immutable set of secret values, and the ways to hide them."""

    __slots__ = ("_pattern", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: frozenset[str] = frozenset(str(v) for v in values if v)
        self._pattern: re.Pattern[str] | None = None

    def plus(self, *others: Iterable[str]) -> Secrets:
        """These secrets and those of `others` (other `Secrets` or plain values)."""
        values = set(self._values)
        for other in others:
            values.update(other)
        return self if len(values) == len(self._values) else Secrets(values)

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secrets) and other._values == self._values

    def __hash__(self) -> int:
        return hash(self._values)

    def values(self) -> frozenset[str]:
        return self._values

    def _regex(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._values:
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern

    def redact_text(self, text: str, *, min_length: int = MIN_TEXT_SECRET) -> str:
        """`text` with every secret of at least `min_length` characters replaced by ***."""
        if not self._values:
            return text
        long_enough = [v for v in self._values if len(v) >= min_length]
        if not long_enough:
            return text
        pattern = (
            self._regex()
            if min_length <= 1
            else re.compile(
                "|".join(re.escape(v) for v in sorted(long_enough, key=len, reverse=True))
            )
        )
        return pattern.sub(MASK, text) if pattern is not None else text

    def mask(self, value: Any) -> Any:
        """What to show for a value derived from a secret.

        Strings show their secret parts as ***; a value that no longer contains its secret
        verbatim (transformed by a filter, or not a string) is shown entirely as ***.
        """
        if isinstance(value, dict):
            shown = {k: self._mask_leaf(v) for k, v in value.items()}
            return shown if shown != value else MASK
        if isinstance(value, list):
            items = [self._mask_leaf(v) for v in value]
            return items if items != value else MASK
        if isinstance(value, str):
            replaced = self.redact_text(value, min_length=1)
            return replaced if replaced != value else MASK
        return MASK

    def _mask_leaf(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: self._mask_leaf(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._mask_leaf(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value, min_length=1)
        return value

    def redact(self, value: Any) -> Any:
        """A copy of JSON data with every secret in its strings replaced by *** (a last net)."""
        if not self._values:
            return value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value


class SecretTracker:
    """Records the secret values templates read while they render (see `EnvProxy`)."""

    __slots__ = ("_current", "_values")

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._values: set[str] = {str(v) for v in known if v}
        self._current: Secrets | None = None

    def add(self, value: str) -> None:
        if value and value not in self._values:
            self._values.add(str(value))
            self._current = None

    def __contains__(self, value: object) -> bool:
        return value in self._values

    @property
    def secrets(self) -> Secrets:
        """The secrets recorded so far, as an immutable set."""
        if self._current is None:
            self._current = Secrets(self._values)
        return self._current
