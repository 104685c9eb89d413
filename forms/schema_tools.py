"""Keyword-aware walks over JSON Schema 2020-12 documents.

The form schemas are self-contained (no ``$ref``), so a walk only has to know which keywords hold
subschemas. Everything here is pure and works on plain ``dict``/``list`` data.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

# Keywords whose value is a map of name -> subschema.
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
# Keywords whose value is one subschema.
SCHEMA_SINGLE = ("additionalProperties", "unevaluatedProperties", "items", "contains", "propertyNames",
                 "if", "then", "else", "not", "unevaluatedItems")
# Keywords whose value is a list of subschemas.
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")

# Keywords that only annotate: removed from the copy the validator runs on (they cost time per call).
ANNOTATIONS = frozenset({"title", "description", "examples", "default", "$comment", "deprecated",
                         "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "x-help"})
# Keywords that make a field obligatory: a draft is checked without them.
OBLIGATIONS = frozenset({"required", "dependentRequired", "minItems", "minLength", "minProperties"})

# Extension keywords this package implements or reads (kept in the validation copy).
EXTENSIONS = frozenset({"x-not-future", "x-unique-keys", "x-messages", "x-pattern-hint"})


def canonical_json(value: Any) -> bytes:
    """Stable bytes for hashing: sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def transform(schema: Any, fn: Callable[[dict[str, Any], str], dict[str, Any]], where: str = "") -> Any:
    """Rebuild ``schema`` bottom-up, calling ``fn(subschema, where)`` on every object subschema.

    ``where`` is the keyword the subschema hangs from (``"if"``, ``"not"``, ``"properties"``...),
    so that a transformation can leave conditions alone.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: transform(sub, fn, key) for name, sub in value.items()}
        elif key in SCHEMA_SINGLE:
            out[key] = transform(value, fn, key)
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [transform(sub, fn, key) for sub in value]
        else:
            out[key] = copy.deepcopy(value)
    return fn(out, where)


def _strip_annotations(sub: dict[str, Any], where: str) -> dict[str, Any]:
    return {k: v for k, v in sub.items()
            if k not in ANNOTATIONS and not (k.startswith("x-") and k not in EXTENSIONS)}


def validation_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema the final-mode validator runs: the same rules without annotations."""
    return transform(schema, _strip_annotations)


def draft_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The lenient schema for drafts: types, formats, enums and patterns still apply, but nothing
    is obligatory (``required``, ``minItems``, ``minLength``... are removed everywhere, including
    inside ``then``/``else``/``allOf``). Conditions (``if``) and prohibitions (``not``) are kept
    whole, because removing ``required`` inside them would change what they mean.
    """

    def walk(node: Any, inside_condition: bool) -> Any:
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ANNOTATIONS or (key.startswith("x-") and key not in EXTENSIONS):
                continue
            if key in OBLIGATIONS and not inside_condition:
                continue
            if key in SCHEMA_MAPS and isinstance(value, dict):
                out[key] = {name: walk(sub, inside_condition) for name, sub in value.items()}
            elif key in SCHEMA_SINGLE:
                out[key] = walk(value, inside_condition or key in ("if", "not"))
            elif key in SCHEMA_LISTS and isinstance(value, list):
                out[key] = [walk(sub, inside_condition) for sub in value]
            else:
                out[key] = copy.deepcopy(value)
        return out

    return walk(schema, False)


def iter_subschemas(schema: Any, pointer: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object subschema with its JSON Pointer inside the schema document."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key, value in schema.items():
        if key in SCHEMA_MAPS and isinstance(value, dict):
            for name, sub in value.items():
                yield from iter_subschemas(sub, f"{pointer}/{key}/{escape_pointer(name)}")
        elif key in SCHEMA_SINGLE:
            yield from iter_subschemas(value, f"{pointer}/{key}")
        elif key in SCHEMA_LISTS and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from iter_subschemas(sub, f"{pointer}/{key}/{i}")


def field_schemas(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Map every field path to its subschema.

    Paths are dotted; an array of rows adds ``[]``: ``child.date_of_birth``, ``actions[].status``.
    Properties are gathered from ``properties`` and ``items`` (also those a form declares inside
    ``allOf``/``if``/``then``/``else``, merged). A bare ``actions[]`` is not a field; ``actions`` is.
    """
    out: dict[str, dict[str, Any]] = {}

    def props_of(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                yield name, sub
        for key in ("allOf", "anyOf", "oneOf"):
            for part in node.get(key) or []:
                if isinstance(part, dict):
                    yield from props_of(part)
        for key in ("then", "else"):
            part = node.get(key)
            if isinstance(part, dict):
                yield from props_of(part)

    def walk(node: dict[str, Any], prefix: str) -> None:
        for name, sub in props_of(node):
            path = f"{prefix}.{name}" if prefix else name
            if path not in out or len(sub) > len(out[path]):
                out[path] = sub
            walk(sub, path)
            items = sub.get("items")
            if isinstance(items, dict):
                walk(items, path + "[]")

    walk(schema, "")
    return out


def field_paths(schema: dict[str, Any]) -> set[str]:
    return set(field_schemas(schema))


def escape_pointer(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def to_pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + escape_pointer(p) for p in parts)


def to_pattern(parts: Iterable[str | int]) -> str:
    """Instance path -> dotted field pattern: ``["actions", 3, "status"]`` -> ``actions[].status``."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[]"
        else:
            out = f"{out}.{p}" if out else str(p)
    return out


def split_path(path: str) -> list[str]:
    """``a.b[].c`` -> ``["a", "b", "[]", "c"]``."""
    parts: list[str] = []
    for chunk in path.split("."):
        if chunk.endswith("[]"):
            parts += [chunk[:-2], "[]"]
        else:
            parts.append(chunk)
    return parts
