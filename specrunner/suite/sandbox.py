"""The Jinja2 sandbox suites run in: strict, bounded while it renders, aware of secrets.

Values read from `env`, and values built from them, carry a `Secret*` type. The sandbox
notes ("touched") whenever a template reads, passes or prints one, so the caller knows
which rendered values to mask (the template engine has other ways to know too: see
`TemplateEngine`).

Each render gets a work `Budget` (`begin`): loops, calls, filters and operators are charged
to it, and every value that could grow large is sized before it is made (`guards`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn, cast

import jinja2
from jinja2 import pass_context
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, generate_lorem_ipsum

from specrunner.masking import SecretTracker
from specrunner.suite.bounds import (
    ITEMS_PER_STEP,
    MAX_RENDERED_SIZE,
    Budget,
    check_size,
    refuse_above,
    rendered_size,
)
from specrunner.suite.guards import (
    check_binop,
    check_str_method,
    concatenate,
    guard_filter,
    guard_test,
    size_of,
)


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

    __slots__ = ("_environ", "_lenient", "missing", "reads", "tracker", "used")

    def __init__(
        self, environ: Mapping[str, str], *, lenient: bool, tracker: SecretTracker
    ) -> None:
        self._environ = environ
        self._lenient = lenient
        self.tracker = tracker
        self.missing: set[str] = set()
        self.used: set[str] = set()
        self.reads = 0
        """How many values it has given (a default of `get` is none): a template that
        made this grow has read a secret."""

    @property
    def lenient(self) -> bool:
        return self._lenient

    def _lookup(self, name: str) -> SecretStr:
        self.used.add(name)
        self.reads += 1
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


def _refuse_wide_format(text: Any) -> None:
    if isinstance(text, str) and _WIDE_FORMAT.search(text):
        raise SecurityError("a format width that large would make the result too large")


# Names of the functions the template engine writes into every template (`template_tree`):
# not names a template can use as filters, since the parser reads a filter name as a word.
LOOP = "@loop"
STEP = "@step"
CONCAT = "@concat"
SIZED = "@sized"


class Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, plus secret tracking and bounds on work and size."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(
            undefined=_Undefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=self._finalize,
        )
        self.filters = {
            name: guard_filter(name, function, self) for name, function in self.filters.items()
        }
        self.tests = {
            name: guard_test(cast(Callable[..., Any], function), self)
            for name, function in self.tests.items()
        }
        self.filters.update(
            {LOOP: self._loop, STEP: self._step, CONCAT: self._concat, SIZED: self._sized}
        )
        self.globals["lipsum"] = self._lipsum
        self.globals["namespace"] = self._namespace_type()
        self.clock = clock
        self.touched = False
        self.budget = Budget(clock=clock)

    # -- one render

    def begin(self) -> Budget:
        """Start a render (or a compile): a fresh budget, nothing touched yet."""
        self.touched = False
        self.budget = Budget(clock=self.clock)
        return self.budget

    def note(self, value: Any) -> Any:
        """`value`, noted if it is a secret (or a list or mapping holding one)."""
        if isinstance(value, SECRET_TYPES):
            self.touched = True
        return value

    def _note_read(self, value: Any) -> Any:
        """A value looked up: noted if it is a secret itself. A list or mapping holding a
        secret is noted only when it is used as a whole (printed, passed, compared):
        `vars.auth.kind` reads nothing secret on the way through `vars.auth`."""
        if isinstance(value, SecretStr | SecretInt | SecretFloat):
            self.touched = True
        return value

    def check_size(self, value: Any, what: str) -> None:
        check_size(value, self.budget, what)

    def _finalize(self, value: Any) -> Any:
        self.note(value)
        size = len(value) if isinstance(value, str) else None
        if size is None:
            self.check_size(value, "the rendered text")
        else:
            refuse_above(size, "the rendered text")
            self.budget.charge_size(size)
        return value

    # -- what the engine writes into templates (see `template_tree`)

    @staticmethod
    @pass_context
    def _loop(context: Context, iterable: Iterable[Any], weight: int) -> Iterator[Any]:
        context.environment.note(iterable)  # type: ignore[attr-defined]
        budget: Budget = context.environment.budget  # type: ignore[attr-defined]
        steps = max(1, weight)
        for item in iterable:
            budget.charge(steps)
            yield item

    @staticmethod
    @pass_context
    def _step(context: Context, weight: int) -> str:
        context.environment.budget.charge(max(1, weight))  # type: ignore[attr-defined]
        return ""

    @staticmethod
    @pass_context
    def _concat(context: Context, parts: tuple[Any, ...]) -> str:
        for part in parts:
            context.environment.note(part)  # type: ignore[attr-defined]
        return concatenate(parts, context.environment.budget)  # type: ignore[attr-defined]

    @staticmethod
    @pass_context
    def _sized(context: Context, value: Any) -> Any:
        """An operand of a comparison (`==`, `in`, ...), which goes through all of it."""
        context.environment.note(value)  # type: ignore[attr-defined]
        budget: Budget = context.environment.budget  # type: ignore[attr-defined]
        size = size_of(value)
        if size < ITEMS_PER_STEP:
            return value
        items = value.values() if isinstance(value, dict) else value
        kinds = () if isinstance(value, str) else set(map(type, items))  # fast: done in C
        if any(issubclass(kind, list | tuple | dict) for kind in kinds):
            rendered_size(value, budget)  # nested: charged for every item inside
        else:
            budget.charge_size(size)
        return value

    def _lipsum(self, n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
        for value in (n, min, max):
            if not isinstance(value, int) or value > MAX_RENDERED_SIZE:
                raise SecurityError("lipsum() with a size that large would be too large")
        words = n * (max if max > min else min) if n > 0 else 0  # (Jinja's names: `max`...)
        refuse_above(words * 16, "the result of lipsum()")  # words are at most 14 letters
        self.budget.charge(words)
        return generate_lorem_ipsum(n=n, html=html, min=min, max=max)

    def _namespace_type(self) -> type[Namespace]:
        sandbox = self

        class BoundedNamespace(Namespace):
            """A namespace whose attributes are sized as they are set: `{% set ns.x = ...
            %}` in a loop is how a template grows a value step by step."""

            def __setitem__(self, name: str, value: Any) -> None:
                sandbox.check_size(value, f"the namespace attribute {name!r}")
                super().__setitem__(name, value)

        return BoundedNamespace

    # -- the sandbox's own hooks

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Data first: `matrix.values` or `vars.items` is the key, not the dict method.
        if type(obj) in (dict, SecretDict) and attribute in obj:
            return self._note_read(obj[attribute])
        return self._note_read(super().getattr(obj, attribute))

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.note(argument)
        value = super().getitem(obj, argument)
        if isinstance(argument, slice):
            self.budget.charge_size(size_of(value))
        return self._note_read(value)

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = self.budget
        budget.charge(1)  # every call: macros (recursion), methods, globals
        for value in (*args, *kwargs.values()):
            self.note(value)
        owner = self.note(getattr(__obj, "__self__", None))
        budget.charge_size(size_of(owner))  # a method goes through its string or list
        if isinstance(owner, str):
            args = check_str_method(owner, getattr(__obj, "__name__", ""), args, kwargs, budget)
        result = super().call(__context, __obj, *args, **kwargs)
        self.check_size(result, "the result of the call")
        budget.charge_size(size_of(result))
        return self.note(result)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        owner: str = value.__self__
        name: str = value.__name__
        _refuse_wide_format(owner)

        def checked(*args: Any, **kwargs: Any) -> str:
            check_str_method(owner, name, args, kwargs, self.budget)
            return formatter(*args, **kwargs)

        return checked

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.note(left)
        self.note(right)
        if operator == "%":
            _refuse_wide_format(left)
        check_binop(operator, left, right, self.budget)
        return self.note(super().call_binop(context, operator, left, right))
