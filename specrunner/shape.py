"""A fast yes-or-no check of JSON data against a JSON Schema, for large documents.

jsonschema checks a 10,000-run report in about 2 s; most of that is its generality. A
schema that keeps to the keywords below is compiled once into nested Python functions
that answer only "does it conform?" in a fraction of that. A "no" is then explained by
jsonschema itself, so messages stay the same. A keyword this module does not know makes
`compile_shape` refuse the schema (ShapeError): the subset can never drift silently from
what the schema says. Suites (suite/validate.py: a valid one never imports jsonschema),
saved reports (report/saved.py) and Cekura's Run objects (cekura_run.py) are checked so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_IGNORED = frozenset({"$schema", "$id", "title", "description", "default", "examples", "$comment"})


class ShapeError(ValueError):
    """The schema uses a keyword (or a form of one) this module cannot check."""


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})


def _same(a: Any, b: Any) -> bool:
    """JSON equality: true and 1 differ, 1 and 1.0 do not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def compile_shape(schema: Mapping[str, Any], *, whole_integers: bool = False) -> Check:
    """A function telling whether a value conforms to `schema` (its `$defs` included).
    With `whole_integers`, "integer" means an int only (JSON Schema also takes 1.0)."""
    return _Compiler(schema, whole_integers).compile(schema)


class _Compiler:
    def __init__(self, root: Mapping[str, Any], whole_integers: bool) -> None:
        self._root = root
        self._refs: dict[str, Check] = {}
        self.whole_integers = whole_integers

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return lambda value: True
        if schema is False:
            return lambda value: False
        if not isinstance(schema, Mapping):
            raise ShapeError(f"not a schema: {schema!r}")
        unknown = set(schema) - _IGNORED - set(_KEYWORDS) - {"$defs"}
        if unknown:
            raise ShapeError(f"unsupported keywords: {', '.join(sorted(unknown))}")
        checks = [
            _KEYWORDS[keyword](self, schema[keyword], schema)
            for keyword in _KEYWORDS
            if keyword in schema
        ]
        present = [check for check in checks if check is not None]
        if not present:
            return lambda value: True
        combined = present[0]
        for check in present[1:]:
            combined = _both(combined, check)
        return combined

    def ref(self, target: Any, _: Mapping[str, Any]) -> Check:
        if not isinstance(target, str) or not target.startswith("#/"):
            raise ShapeError(f"only local references are supported, not {target!r}")
        if target not in self._refs:
            resolved: list[Check] = []
            self._refs[target] = lambda value: resolved[0](value)  # for recursive schemas
            node: Any = self._root
            for part in target[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            resolved.append(self.compile(node))
        return self._refs[target]


def _type(compiler: _Compiler, kinds: Any, _: Mapping[str, Any]) -> Check:
    names = {kinds} if isinstance(kinds, str) else set(kinds)
    unknown = names - _TYPES
    if unknown:
        raise ShapeError(f"unknown types: {', '.join(sorted(unknown))}")
    python: dict[str, type] = {"null": type(None), "string": str, "array": list, "object": dict}
    plain: tuple[type, ...] = tuple(python[name] for name in names if name in python)
    if "number" in names:
        plain += (int, float)
    booleans, integers = "boolean" in names, "integer" in names and "number" not in names
    if integers and compiler.whole_integers:
        plain, integers = (*plain, int), False

    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return booleans
        return isinstance(value, plain) or (integers and _is_integer(value))

    return check


def _both(first: Check, second: Check) -> Check:
    return lambda value: first(value) and second(value)


def _properties(compiler: _Compiler, props: Any, schema: Mapping[str, Any]) -> Check:
    checks = {name: compiler.compile(sub) for name, sub in props.items()}

    pairs = tuple(checks.items())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name, test in pairs:  # noqa: SIM110 (a loop: twice as fast as all() here)
            if name in value and not test(value[name]):
                return False
        return True

    return check


def _additional(compiler: _Compiler, extra: Any, schema: Mapping[str, Any]) -> Check:
    known = frozenset(schema.get("properties", {}))
    test = compiler.compile(extra)

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(test(item) for key, item in value.items() if key not in known)

    return check


def _required(compiler: _Compiler, names: Any, _: Mapping[str, Any]) -> Check:
    wanted = tuple(names)
    return lambda value: not isinstance(value, dict) or all(n in value for n in wanted)


def _items(compiler: _Compiler, items: Any, _: Mapping[str, Any]) -> Check:
    test = compiler.compile(items)
    return lambda value: not isinstance(value, list) or all(test(item) for item in value)


def _bound(kind: type, size: Callable[[Any], float], limit: float, above: bool) -> Check:
    if above:
        return lambda value: not _fits(value, kind) or size(value) >= limit
    return lambda value: not _fits(value, kind) or size(value) <= limit


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, kind)


def _number(above: bool) -> Callable[[_Compiler, Any, Mapping[str, Any]], Check]:
    return lambda compiler, limit, _: _bound(float, lambda v: v, limit, above)


def _count(kind: type, above: bool) -> Callable[[_Compiler, Any, Mapping[str, Any]], Check]:
    return lambda compiler, limit, _: _bound(kind, len, limit, above)


def _const(compiler: _Compiler, expected: Any, _: Mapping[str, Any]) -> Check:
    return lambda value: _same(value, expected)


def _enum(compiler: _Compiler, options: Any, _: Mapping[str, Any]) -> Check:
    choices = list(options)
    return lambda value: any(_same(value, choice) for choice in choices)


def _any_of(compiler: _Compiler, options: Any, _: Mapping[str, Any]) -> Check:
    tests = [compiler.compile(option) for option in options]
    return lambda value: any(test(value) for test in tests)


def _not(compiler: _Compiler, option: Any, _: Mapping[str, Any]) -> Check:
    test = compiler.compile(option)
    return lambda value: not test(value)


def _all_of(compiler: _Compiler, options: Any, _: Mapping[str, Any]) -> Check:
    tests = [compiler.compile(option) for option in options]
    return lambda value: all(test(value) for test in tests)


def _one_of(compiler: _Compiler, options: Any, _: Mapping[str, Any]) -> Check:
    tests = [compiler.compile(option) for option in options]

    def check(value: Any) -> bool:
        passed = 0
        for test in tests:
            if test(value):
                passed += 1
                if passed > 1:
                    return False
        return passed == 1

    return check


def _if(compiler: _Compiler, condition: Any, schema: Mapping[str, Any]) -> Check:
    """`if`, with the `then` and `else` beside it (which mean nothing without it)."""
    test = compiler.compile(condition)
    then = compiler.compile(schema.get("then", True))
    otherwise = compiler.compile(schema.get("else", True))
    return lambda value: then(value) if test(value) else otherwise(value)


def _dependent_required(compiler: _Compiler, needs: Any, _: Mapping[str, Any]) -> Check:
    pairs = tuple((name, tuple(wanted)) for name, wanted in needs.items())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        return all(all(n in value for n in wanted) for name, wanted in pairs if name in value)

    return check


def _exclusive(above: bool) -> Callable[[_Compiler, Any, Mapping[str, Any]], Check]:
    def make(compiler: _Compiler, limit: Any, _: Mapping[str, Any]) -> Check:
        if above:
            return lambda value: not _fits(value, float) or value > limit
        return lambda value: not _fits(value, float) or value < limit

    return make


def _pattern(compiler: _Compiler, pattern: Any, _: Mapping[str, Any]) -> Check:
    search = re.compile(pattern).search  # as jsonschema: re.search, anywhere in the string
    return lambda value: not isinstance(value, str) or search(value) is not None


def _property_names(compiler: _Compiler, names: Any, _: Mapping[str, Any]) -> Check:
    test = compiler.compile(names)
    return lambda value: not isinstance(value, dict) or all(test(key) for key in value)


def _unique_items(compiler: _Compiler, unique: Any, _: Mapping[str, Any]) -> Check | None:
    if unique is not True:
        return None

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        keys = value if all(type(item) is str for item in value) else list(map(_key, value))
        return len(set(keys)) == len(keys)  # (a matrix may list 100,000 values)

    return check


def _key(value: Any) -> Any:
    """A hashable stand-in for a JSON value, equal for values `_same` calls equal: true
    and 1 differ, 1 and 1.0 do not (Python hashes and compares those alike)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list):
        return ("list", tuple(map(_key, value)))
    if isinstance(value, dict):
        return ("dict", frozenset((k, _key(v)) for k, v in value.items()))
    return (type(value) if isinstance(value, str) or value is None else "number", value)


_KEYWORDS: Mapping[str, Callable[[_Compiler, Any, Mapping[str, Any]], Check | None]] = {
    "type": _type,
    "$ref": lambda compiler, target, schema: compiler.ref(target, schema),
    "required": _required,
    "properties": _properties,
    "additionalProperties": _additional,
    "items": _items,
    "minimum": _number(above=True),
    "maximum": _number(above=False),
    "minItems": _count(list, above=True),
    "maxItems": _count(list, above=False),
    "minProperties": _count(dict, above=True),
    "maxProperties": _count(dict, above=False),
    "minLength": _count(str, above=True),
    "maxLength": _count(str, above=False),
    "const": _const,
    "enum": _enum,
    "anyOf": _any_of,
    "not": _not,
    "allOf": _all_of,
    "oneOf": _one_of,
    "if": _if,
    "then": lambda compiler, then, schema: None,  # (read by `if`)
    "else": lambda compiler, otherwise, schema: None,  # (read by `if`)
    "dependentRequired": _dependent_required,
    "exclusiveMinimum": _exclusive(above=True),
    "exclusiveMaximum": _exclusive(above=False),
    "pattern": _pattern,
    "propertyNames": _property_names,
    "uniqueItems": _unique_items,
}
