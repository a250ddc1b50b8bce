"""Check a loaded suite against `schemas/suite.v1.json`, in plain language.

Every schema violation becomes one located diagnostic that says what was expected and,
where a known key or value is close, suggests it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from specrunner.errors import Diagnostic
from specrunner.schemas import load_schema
from specrunner.shape import Check, ShapeError, compile_shape
from specrunner.suggest import did_you_mean, listing, one_of
from specrunner.suite.load import Document, JsonPath

if TYPE_CHECKING:
    from jsonschema import ValidationError

SUPPORTED_VERSIONS = (1,)

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def dotted(path: JsonPath, root: str = "the suite") -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or root


def describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def check_version(doc: Document) -> Diagnostic | None:
    """The one error for an unsupported version, which makes every other check moot."""
    data = doc.data
    if not isinstance(data, dict) or "version" not in data:
        return None
    version = data["version"]
    if isinstance(version, int) and not isinstance(version, bool) and version in SUPPORTED_VERSIONS:
        return None
    supported = ", ".join(str(v) for v in SUPPORTED_VERSIONS)
    if isinstance(version, str) and version.strip().isdigit():
        message = f"version must be a number, not a string: write `version: {version.strip()}`"
    else:
        shown = repr(version) if isinstance(version, str) else describe(version)
        if isinstance(version, int | float) and not isinstance(version, bool):
            shown = str(version)
        message = f"unsupported suite version {shown}; this specrunner reads version {supported}"
    return doc.diagnostic(("version",), message)


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One schema violation, and the path of what it is about: a missing or unknown key's
    own path (not its mapping's), else the value's. `suite.spoiled` reads the paths."""

    diagnostic: Diagnostic
    subject: JsonPath


def schema_diagnostics(doc: Document, kind: str = "suite") -> list[Diagnostic]:
    return sorted({problem.diagnostic for problem in schema_problems(doc, kind)})


def schema_problems(doc: Document, kind: str = "suite") -> list[SchemaProblem]:
    """Every schema violation of `doc`, in plain language, sorted by position.

    A valid document (most are) is told so by the schema's compiled check (`shape`), in a
    fraction of jsonschema's time; jsonschema, slow to import and to run, finds the
    violations of the others."""
    conforms = _conforms(kind)
    if conforms is not None and conforms(doc.data):
        return []
    from jsonschema import Draft202012Validator  # only to say what is wrong

    validator = Draft202012Validator(load_schema(kind))
    found: list[SchemaProblem] = []
    root = "the suite" if kind == "suite" else f"the {kind} configuration"
    for error in validator.iter_errors(doc.data):
        found.extend(_explain(doc, error, root))
    return sorted(found, key=lambda problem: problem.diagnostic)


@cache
def _conforms(kind: str) -> Check | None:
    """The compiled yes-or-no check of the schema of `kind`; None if it cannot be made
    (a keyword `shape` does not know): jsonschema then checks every document."""
    try:
        return compile_shape(load_schema(kind))
    except ShapeError:
        return None


def _explain(doc: Document, error: ValidationError, root: str) -> Iterable[SchemaProblem]:
    path: JsonPath = tuple(error.absolute_path)
    where = dotted(path, root)
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance
    kind = str(error.validator)
    value: Any = error.validator_value

    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in instance:
            if key in known:
                continue
            hint = did_you_mean(key, known)
            if not hint and known:
                hint = f" (expected one of: {', '.join(known)})"
            yield SchemaProblem(
                doc.diagnostic((*path, key), f"unknown key {key!r} in {where}{hint}", at_key=True),
                (*path, key),
            )
        return
    if kind == "required" and isinstance(instance, dict):
        for name in value:
            if name not in instance:
                about = _first_sentence(schema.get("properties", {}).get(name, {}))
                extra = f" ({about})" if about else ""
                hint = did_you_mean(
                    name, [k for k in instance if k not in schema.get("properties", {})]
                )
                yield SchemaProblem(
                    doc.diagnostic(
                        path,
                        f"{where}: missing required key {name!r}{extra}"
                        f"{hint.replace('; did you mean', '; is it misspelt as')}",
                    ),
                    (*path, name),
                )
        return
    if kind == "dependentRequired" and isinstance(instance, dict):
        yield from _dependents(doc, path, where, schema, instance, value)
        return
    if "propertyNames" in error.relative_schema_path and isinstance(instance, str):
        # jsonschema reports a bad key at its mapping; point at the key itself.
        yield SchemaProblem(
            doc.diagnostic(
                (*path, instance),
                f"{where}: the name {instance!r} is not allowed: {_name_rule(schema)}",
                at_key=True,
            ),
            (*path, instance),
        )
        return
    if kind in ("oneOf", "anyOf"):
        best = _fitting(error)
        branch = best.schema if best is not None and isinstance(best.schema, dict) else {}
        if (
            best is not None
            and set(branch) != {"required"}
            and (best.relative_path or best.validator in ("required", "additionalProperties"))
        ):
            # A value of the branch its type fits, wrong inside: said where, as such.
            yield from _explain(doc, best, root)
            return
    yield SchemaProblem(doc.diagnostic(path, f"{where}: {_message(error, schema, instance)}"), path)


def _dependents(
    doc: Document,
    path: JsonPath,
    where: str,
    schema: dict[str, Any],
    instance: dict[str, Any],
    rules: Any,
) -> Iterable[SchemaProblem]:
    """A key that needs another (`environments` needs `default_environment`): pointed at
    the key that is there, with an example drawn from its names."""
    for present, needed in rules.items():
        if present not in instance:
            continue
        for name in needed:
            if name in instance:
                continue
            about = _first_sentence(schema.get("properties", {}).get(name, {}))
            extra = f" ({about})" if about else ""
            names = list(instance[present]) if isinstance(instance[present], dict) else []
            example = f", for example `{name}: {names[0]}`" if names else ""
            yield SchemaProblem(
                doc.diagnostic(
                    (*path, present),
                    f"{where} has {present} but no {name}{extra}: add it{example}"
                    f"{listing(present, names)}",
                    at_key=True,
                ),
                (*path, name),
            )


def _message(error: ValidationError, schema: dict[str, Any], instance: Any) -> str:
    kind = str(error.validator)
    value: Any = error.validator_value
    if kind == "type":
        return f"expected {_expected(schema)}, got {describe(instance)}"
    if kind in ("enum", "const"):
        allowed = value if kind == "enum" else [value]
        hint = (
            did_you_mean(instance, [str(a) for a in allowed]) if isinstance(instance, str) else ""
        )
        return f"expected {one_of(allowed)}, got {describe(instance)}{hint}"
    if kind == "minimum":
        return f"must be at least {value}, got {instance}"
    if kind == "maximum":
        return f"must be at most {value}, got {instance}"
    if kind == "exclusiveMinimum":
        return f"must be greater than {value}, got {instance}"
    if kind == "exclusiveMaximum":
        return f"must be less than {value}, got {instance}"
    if kind == "minItems":
        return f"must have at least {value} item{'s' if value != 1 else ''}"
    if kind == "maxItems":
        return f"must have at most {value} items"
    if kind == "uniqueItems":
        return "must not repeat an item"
    if kind == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if kind == "pattern":
        return f"{describe(instance)} is not of the required form ({_pattern_rule(schema)})"
    if kind == "minProperties":
        if value == 1:
            keys = list(schema.get("properties", {}))
            return "must not be empty" + (f"; set one of: {', '.join(keys)}" if keys else "")
        return f"must have at least {value} keys"
    if kind == "maxProperties":
        keys = list(schema.get("properties", {}))
        if value == 1 and keys:
            got = ", ".join(str(k) for k in instance)
            return f"takes only one of {one_of(keys)} (got {got})"
        return f"must have at most {value} keys"
    if kind in ("oneOf", "anyOf"):
        return _alternatives(error, schema, instance)
    if kind == "not" and isinstance(value, dict) and isinstance(instance, dict):
        # `not: {required: [a, b]}`: keys that exclude each other.
        names = [str(n) for n in value.get("required", [])]
        got = ", ".join(n for n in names if n in instance)
        return f"takes only one of {one_of(names)} (got {got})"
    return error.message


def _alternatives(error: ValidationError, schema: dict[str, Any], instance: Any) -> str:
    branches = schema.get(str(error.validator), [])
    required_only = [
        b.get("required") for b in branches if isinstance(b, dict) and set(b) == {"required"}
    ]
    if required_only and len(required_only) == len(branches) and isinstance(instance, dict):
        names = [r[0] for r in required_only if r]
        present = [n for n in names if n in instance]
        if len(present) > 1:
            return f"set only one of {one_of(present)}"
        return f"needs one of {one_of(names)}"
    # Report the branch the value's type fits, if one does; else what the types are.
    best = _fitting(error)
    if best is not None:
        best_schema = best.schema if isinstance(best.schema, dict) else {}
        return _message(best, best_schema, best.instance)
    return f"expected {_expected(schema)}, got {describe(instance)}"


def _fitting(error: ValidationError) -> ValidationError | None:
    """Of the errors of a oneOf or anyOf, the deepest of a branch the value's type fits."""
    fitting = [
        sub
        for sub in error.context or []
        if not (sub.validator == "type" and not sub.relative_path)
    ]
    if not fitting:
        return None
    return min(fitting, key=lambda sub: (-len(sub.relative_path), str(sub.validator)))


def _expected(schema: dict[str, Any]) -> str:
    """A plain-language description of what `schema` accepts."""
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        parts = [_expected(b) for b in branches if isinstance(b, dict)]
        return " or ".join(dict.fromkeys(parts))
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(_TYPE_NAMES.get(str(k), str(k)) for k in kind)
    text = _TYPE_NAMES.get(kind, "a value") if isinstance(kind, str) else "a value"
    low, high = schema.get("minimum"), schema.get("maximum")
    if kind in ("integer", "number"):
        if low is not None and high is not None:
            text += f" from {low} to {high}"
        elif low is not None:
            text += f" of at least {low}"
    if kind == "string" and "pattern" in schema:
        text += f" like {_pattern_rule(schema)}"
    if kind == "array" and isinstance(schema.get("items"), dict):
        text += f" of {_expected(schema['items']).removeprefix('a ').removeprefix('an ')}s"
    return text


def _pattern_rule(schema: dict[str, Any]) -> str:
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return "for example " + one_of(examples[:3])
    return f"matching /{schema.get('pattern', '')}/"


def _name_rule(schema: dict[str, Any]) -> str:
    about = _first_sentence(schema)
    rule = about.split(": ", 1)[-1] if about else f"names must match /{schema.get('pattern')}/"
    return f"{rule} ({_pattern_rule(schema)})" if schema.get("examples") else rule


def _first_sentence(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    text = str(schema.get("description", "")).strip()
    if not text:
        return ""
    end = text.find(". ")
    sentence = (text if end < 0 else text[:end]).rstrip(".")
    if sentence.endswith(")") and " (" in sentence:  # drop a trailing aside
        sentence = sentence[: sentence.rindex(" (")]
    return sentence
