"""JSON Schema keywords re-implemented for bounded cost (ADR 0012).

jsonschema's own keywords put ``repr(instance)`` in each error message (``"[...] is too long"``),
compare every pair of items for ``uniqueItems``, and walk every item of an array that is already
past its ``maxItems``. Our messages are built from the schema alone (:mod:`forms.validation`), so
these versions yield errors with a short fixed message, one pass over the items, and skip the
items, pattern and format of a value that is already over its size limit (that limit's error is the
answer). Same verdicts as jsonschema's (``tests/forms/test_bounds.py`` compares them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator, ValidationError
from jsonschema._utils import equal, find_additional_properties
from jsonschema.exceptions import FormatError

from .bounds import all_unique

Keyword = Callable[[Any, Any, Any, Mapping[str, Any]], Iterator[ValidationError]]
_BASE = Draft202012Validator.VALIDATORS


def too_long(instance: Any, schema: Mapping[str, Any]) -> bool:
    """Over its limit: the maxItems/maxLength error is the answer; walking it would only cost time."""
    if isinstance(instance, list):
        return len(instance) > schema.get("maxItems", len(instance))
    if isinstance(instance, str):
        return len(instance) > schema.get("maxLength", len(instance))
    return False


def _unless_too_long(keyword: str) -> Keyword:
    base = _BASE[keyword]

    def check(validator: Any, value: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if not too_long(instance, schema):
            yield from base(validator, value, instance, schema)

    return check


def _type(validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    kinds = [types] if isinstance(types, str) else types
    if not any(validator.is_type(instance, kind) for kind in kinds):
        yield ValidationError("wrong type")


def _enum(validator: Any, options: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if all(not equal(instance, option) for option in options):
        yield ValidationError("not one of the options")


def _const(validator: Any, const: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if not equal(instance, const):
        yield ValidationError("not the constant")


def _size(kind: type, compare: Callable[[int, int], bool]) -> Keyword:
    def check(validator: Any, limit: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if isinstance(instance, kind) and not compare(len(instance), limit):
            yield ValidationError("wrong size")

    return check


def _unique_items(validator: Any, unique: Any, instance: Any, schema: Mapping[str, Any]
                  ) -> Iterator[ValidationError]:
    if unique and isinstance(instance, list) and not too_long(instance, schema) and not all_unique(instance):
        yield ValidationError("Each entry may appear only once")


def _pattern(validator: Any, pattern: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if isinstance(instance, str) and not too_long(instance, schema) and not re.search(pattern, instance):
        yield ValidationError("does not match the pattern")


def _format(validator: Any, fmt: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    if validator.format_checker is None or too_long(instance, schema):
        return
    try:
        validator.format_checker.check(instance, fmt)
    except FormatError:
        yield ValidationError("wrong format")


def _additional_properties(validator: Any, extra: Any, instance: Any, schema: Mapping[str, Any]
                           ) -> Iterator[ValidationError]:
    if not isinstance(instance, dict):
        return
    if isinstance(extra, dict):
        for name in find_additional_properties(instance, schema):
            yield from validator.descend(instance[name], extra, path=name)
    elif extra is False and any(True for _ in find_additional_properties(instance, schema)):
        yield ValidationError("unexpected fields")  # forms.validation lists each one by name


IsValid = Callable[[Any, Any, Any], bool]


def jsonschema_is_valid(validator: Any, part: Any, instance: Any) -> bool:
    """jsonschema's own answer: is ``instance`` valid against the subschema ``part``?"""
    return validator.evolve(schema=part).is_valid(instance)


def combinators(is_valid: IsValid = jsonschema_is_valid) -> dict[str, Keyword]:
    """The keywords that ask yes/no questions of subschemas (``anyOf``, ``oneOf``, ``not``,
    ``contains``, ``if``), each asking ``is_valid(validator, subschema, instance)``: jsonschema's
    own walk by default, the compiled check of :mod:`forms.fastcheck` in the forms' validator."""

    def any_of(validator: Any, parts: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if not any(is_valid(validator, part, instance) for part in parts):
            yield ValidationError("matches none of the alternatives")

    def one_of(validator: Any, parts: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if sum(1 for part in parts if is_valid(validator, part, instance)) != 1:
            yield ValidationError("does not match exactly one alternative")

    def not_(validator: Any, part: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if is_valid(validator, part, instance):
            yield ValidationError("matches what is not allowed")

    def contains(validator: Any, part: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if not isinstance(instance, list) or too_long(instance, schema):
            return
        matches = sum(1 for item in instance if is_valid(validator, part, item))
        if matches < schema.get("minContains", 1):
            yield ValidationError("missing a required entry")
        elif matches > schema.get("maxContains", matches):
            yield ValidationError("too many matching entries", validator="maxContains",
                                  validator_value=schema["maxContains"])

    def if_(validator: Any, condition: Any, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
        if is_valid(validator, condition, instance):  # as jsonschema's own ``if``
            if "then" in schema:
                yield from validator.descend(instance, schema["then"], schema_path="then")
        elif "else" in schema:
            yield from validator.descend(instance, schema["else"], schema_path="else")

    return {"anyOf": any_of, "oneOf": one_of, "not": not_, "contains": contains, "if": if_}


BOUNDED_KEYWORDS: dict[str, Keyword] = {
    "type": _type, "enum": _enum, "const": _const,
    "minItems": _size(list, lambda n, limit: n >= limit), "maxItems": _size(list, lambda n, limit: n <= limit),
    "minLength": _size(str, lambda n, limit: n >= limit), "maxLength": _size(str, lambda n, limit: n <= limit),
    "uniqueItems": _unique_items, "pattern": _pattern, "format": _format,
    "additionalProperties": _additional_properties, **combinators(),
    "items": _unless_too_long("items"), "prefixItems": _unless_too_long("prefixItems"),
}
