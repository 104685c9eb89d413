"""Bounded cost: every array and string a form accepts has a size limit, and equality is hashed.

Why (issue #10, ADR 0012): validation ran inside the store's write lock and jsonschema's
``uniqueItems`` compares every pair of items, so one 39 KB referral held every writer for 15 s.

- :func:`with_default_bounds` gives every array without ``maxItems`` and every string without
  ``maxLength`` (and without ``enum``/``const``) a default limit in the copy of the schema the
  validators run on. Published form files do not change: the limit lives in the validator.
- :func:`unbounded_fields` lists the arrays and strings of a schema that declare no limit of their
  own; ``caseflow forms check`` refuses them in every version that is not grandfathered.
- :func:`canonical_key` is a hashable stand-in for a JSON value under JSON Schema equality
  (``1 == 1.0``, ``true != 1``, key order irrelevant), so ``uniqueItems`` is one pass with a set.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .schema_tools import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_SINGLE, iter_subschemas

#: the limit an array gets when its schema declares no ``maxItems``
DEFAULT_MAX_ITEMS = 1000
#: the limit a string gets when its schema declares no ``maxLength`` (and no ``enum``/``const``)
DEFAULT_MAX_LENGTH = 10_000

#: versions published before explicit bounds were required (ADR 0012): they keep validating with
#: the default limits; every other version must declare its own.
GRANDFATHERED = frozenset({
    ("action_plan", 1), ("action_plan", 2), ("crg_referral", 1), ("crg_referral", 2), ("delay_notice", 1),
    ("lcspr_quality_assurance", 1), ("lcspr_terms_of_reference", 1), ("learning_briefing", 1),
    ("publication_record", 1), ("publication_record", 2), ("rapid_review_agency_return", 1),
    ("rapid_review_agency_return", 2), ("rapid_review_report", 1), ("rapid_review_report", 2),
    ("sin_decision", 1),
})


def _types(sub: dict[str, Any]) -> set[str]:
    kind = sub.get("type")
    if isinstance(kind, str):
        return {kind}
    return set(kind) if isinstance(kind, list) else set()


def _closed(sub: dict[str, Any]) -> bool:
    return "enum" in sub or "const" in sub


def _bounded(sub: dict[str, Any]) -> dict[str, Any]:
    kinds = _types(sub)
    if "array" in kinds and "maxItems" not in sub and not _closed(sub):
        sub = {**sub, "maxItems": DEFAULT_MAX_ITEMS}
    if "string" in kinds and "maxLength" not in sub and not _closed(sub):
        sub = {**sub, "maxLength": DEFAULT_MAX_LENGTH}
    return sub


def with_default_bounds(schema: Any) -> Any:
    """A copy of ``schema`` where every typed array and string has a size limit. Conditions
    (``if``, ``not``) are left whole: a limit inside them would change what they mean."""

    def walk(node: Any, inside_condition: bool) -> Any:
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub, inside_condition) for name, sub in value.items()}
            elif key in SCHEMA_SINGLE:
                out[key] = walk(value, inside_condition or key in ("if", "not"))
            elif key in SCHEMA_LISTS and isinstance(value, list):
                out[key] = [walk(sub, inside_condition) for sub in value]
            else:
                out[key] = value
        return out if inside_condition else _bounded(out)

    return walk(schema, False)


def unbounded_fields(schema: dict[str, Any]) -> list[str]:
    """JSON Pointers (inside the schema) of arrays without ``maxItems`` and strings without
    ``maxLength``; a value fixed by ``enum``/``const`` is bounded already."""
    out = []
    conditions = [p for p, _ in iter_subschemas(schema) if p.endswith(("/if", "/not"))]
    for pointer, sub in iter_subschemas(schema):
        kinds = _types(sub)
        if _closed(sub) or any(pointer == c or pointer.startswith(c + "/") for c in conditions):
            continue
        if "array" in kinds and "maxItems" not in sub:
            out.append(f"{pointer}: an array needs maxItems")
        if "string" in kinds and "maxLength" not in sub:
            out.append(f"{pointer}: a string needs maxLength")
    return out


def canonical_key(value: Any) -> Hashable:
    """A hashable key equal for two JSON values exactly when JSON Schema calls them equal."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)  # 1 == 1.0 and hash(1) == hash(1.0)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z",)
    if isinstance(value, list):
        return ("a", tuple(canonical_key(v) for v in value))
    if isinstance(value, dict):
        return ("o", frozenset((k, canonical_key(v)) for k, v in value.items()))
    return ("?", id(value))  # not JSON: never equal to anything else


def all_unique(items: list[Any]) -> bool:
    """``uniqueItems`` in one pass (jsonschema's own compares every pair when items are unhashable)."""
    seen: set[Hashable] = set()
    for item in items:
        key = canonical_key(item)
        if key in seen:
            return False
        seen.add(key)
    return True
