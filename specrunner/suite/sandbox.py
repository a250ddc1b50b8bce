"""The Jinja2 sandbox suites run in: strict, size-capped, and aware of secrets.

Values read from `env`, and values built from them, carry a `Secret*` type. The sandbox
notes ("touched") whenever a template reads or prints one, so the caller knows which
rendered values to mask.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import jinja2
from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from specrunner.masking import SecretTracker

MAX_RENDERED_SIZE = 1_000_000


class SecretStr(str):
    """A string read from the environment, or built from one; never shown."""

    __slots__ = ()


class SecretInt(int):
    __slots__ = ()


class SecretFloat(float):
    __slots__ = ()


class SecretDict(dict[str, Any]):
    """A mapping that holds a secret somewhere inside."""

    __slots__ = ()


class SecretList(list[Any]):
    __slots__ = ()


SECRET_TYPES = (SecretStr, SecretInt, SecretFloat, SecretDict, SecretList)


def as_secret(value: Any) -> Any:
    """`value` in its secret type (booleans and null cannot carry the mark)."""
    if isinstance(value, (*SECRET_TYPES, bool)) or value is None:
        return value
    if isinstance(value, str):
        return SecretStr(value)
    if isinstance(value, int):
        return SecretInt(value)
    if isinstance(value, float):
        return SecretFloat(value)
    if isinstance(value, dict):
        return SecretDict(value)
    if isinstance(value, list):
        return SecretList(value)
    return value


def holds_secret(value: Any) -> bool:
    if isinstance(value, SECRET_TYPES):
        return True
    if isinstance(value, dict):
        return any(holds_secret(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(holds_secret(v) for v in value)
    return False


class MissingEnv(Exception):  # deliberately not an AttributeError: Jinja would swallow it
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class EnvProxy:
    """`env` in templates: `env.NAME`, `env["NAME"]`, `env.get("NAME", default)`.

    In lenient mode (used by `validate`) an unset variable is not an error: it renders
    as an opaque secret placeholder and its name is remembered in `missing`.
    """

    __slots__ = ("_environ", "_lenient", "missing", "tracker", "used")

    def __init__(
        self, environ: Mapping[str, str], *, lenient: bool, tracker: SecretTracker
    ) -> None:
        self._environ = environ
        self._lenient = lenient
        self.tracker = tracker
        self.missing: set[str] = set()
        self.used: set[str] = set()

    def _lookup(self, name: str) -> SecretStr:
        self.used.add(name)
        value = self._environ.get(name)
        if value is None:
            if not self._lenient:
                raise MissingEnv(name)
            self.missing.add(name)
            return SecretStr(f"<unset {name}>")
        self.tracker.add(value)
        return SecretStr(value)

    def __getattr__(self, name: str) -> SecretStr:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._lookup(name)

    def __getitem__(self, name: object) -> SecretStr:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._lookup(name)

    def get(self, name: str, default: Any = None) -> Any:
        if not isinstance(name, str):
            return default
        if self._environ.get(name) is None:
            self.used.add(name)
            return default
        return self._lookup(name)


class UndefinedName(UndefinedError):
    def __init__(self, obj: Any, name: Any, message: str) -> None:
        super().__init__(message)
        self.obj = obj
        self.name = name


class _Undefined(jinja2.StrictUndefined):
    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        exception = self._undefined_exception
        if isinstance(exception, type) and issubclass(exception, SecurityError):
            raise SecurityError(self._undefined_hint or "unsafe access")
        raise UndefinedName(self._undefined_obj, self._undefined_name, self._undefined_message)


# Jinja binds StrictUndefined's operators (str(), iteration, ==, +, ...) to the base class's
# function; bind them to ours so that every use of an undefined value says which name.
for _name in dir(jinja2.StrictUndefined):
    if getattr(jinja2.StrictUndefined, _name) is jinja2.Undefined._fail_with_undefined_error:
        setattr(_Undefined, _name, _Undefined._fail_with_undefined_error)

_WIDE_FORMAT = re.compile(r"%[-+ #0]*\d{7,}|\{[^{}]*:[^{}]*\d{7,}[^{}]*\}")
_SIZING_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}


def _refuse_large(args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_RENDERED_SIZE:
            raise SecurityError(f"{what} with a size of {value} would be too large")


def _refuse_wide_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise SecurityError("a format width that large would make the result too large")


def _capped(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def capped(*args: Any, **kwargs: Any) -> Any:
        _refuse_large(args[1:], kwargs, f"the {name!r} filter")
        if name == "format" and args:
            _refuse_wide_format(args[0])
        return function(*args, **kwargs)

    return capped


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus secret tracking and caps on the size of results."""

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(
            undefined=_Undefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=self._finalize,
        )
        for name in ("center", "indent", "format", "wordwrap", "truncate"):
            self.filters[name] = _capped(name, jinja_filters.FILTERS[name])
        self.touched = False

    def _finalize(self, value: Any) -> Any:
        if holds_secret(value):
            self.touched = True
        return value

    def _note(self, value: Any) -> Any:
        if isinstance(value, SECRET_TYPES):
            self.touched = True
        return value

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: `matrix.values` or `vars.items` is the key, not the dict method.
        if type(obj) in (dict, SecretDict) and attribute in obj:
            return self._note(obj[attribute])
        return self._note(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        return self._note(super().getitem(obj, argument))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str) and name in _SIZING_METHODS:
            _refuse_large(args, kwargs, f"str.{name}()")
        return self._note(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format", "format_map"):
            _refuse_wide_format(owner)
        return super().wrap_str_format(value)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > MAX_RENDERED_SIZE
                ):
                    raise SecurityError("the result of '*' would be too large")
        elif operator == "**":
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and abs(right) > 1000
                and abs(left) > 1
            ):
                raise SecurityError("the result of '**' would be too large")
        elif operator == "%":
            _refuse_wide_format(left)
        return super().call_binop(context, operator, left, right)
