"""Carrying a draft from one version of a form to a later one.

A version's optional ``migration`` block declares how to get a draft from the previous version:

``renamed``   ``[{"from": "incident_description", "to": "incident_summary"}]`` (a field may move
              between objects, and ``rows[].a`` -> ``rows[].b`` renames inside every row, but a
              field never moves between rows or out of a row)
``dropped``   ``[{"field": "child.nhs_number", "reason": "..."}]``
``defaulted`` ``[{"field": "family_informed", "value": "not_yet_decided"}]`` (set only where absent)

Steps run in that order: dropped, renamed, defaulted. Nothing is cleared silently: a dropped
value, a renamed value whose new name is already taken, and any field the new version does not
know are moved out of the data into :attr:`MigrationReport.dropped` with the reason.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .schema_tools import field_schemas, split_path, to_pointer


@dataclass(frozen=True)
class DroppedValue:
    """A value taken out of a draft by a migration; kept so that a person can re-enter it."""

    path: str          # JSON Pointer in the draft of ``version``
    value: Any
    version: int       # the version the value was entered against
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "value": self.value, "version": self.version, "reason": self.reason}


@dataclass
class MigrationReport:
    form_id: str
    from_version: int
    to_version: int
    renamed: list[tuple[str, str]] = field(default_factory=list)      # (old pointer, new pointer)
    defaulted: list[tuple[str, Any]] = field(default_factory=list)    # (pointer, value set)
    dropped: list[DroppedValue] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)                    # versions migrated into

    @property
    def changed(self) -> bool:
        return bool(self.renamed or self.defaulted or self.dropped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "form_id": self.form_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "steps": list(self.steps),
            "renamed": [{"from": a, "to": b} for a, b in self.renamed],
            "defaulted": [{"path": p, "value": v} for p, v in self.defaulted],
            "_dropped": [d.to_dict() for d in self.dropped],
        }


def _rows(data: Any, segments: list[str], pointer: list[str | int]
          ) -> Iterator[tuple[dict[str, Any], list[str | int]]]:
    """Every object reached by ``segments`` (which end at a row, ``[]``, or are empty = the root)."""
    if not segments:
        if isinstance(data, dict):
            yield data, pointer
        return
    head, rest = segments[0], segments[1:]
    if head == "[]":
        if isinstance(data, list):
            for i, row in enumerate(data):
                yield from _rows(row, rest, [*pointer, i])
        return
    if isinstance(data, dict) and head in data:
        yield from _rows(data[head], rest, [*pointer, head])


def _split_at_row(path: str) -> tuple[list[str], list[str]]:
    """``a[].b.c`` -> (``["a", "[]"]``, ``["b", "c"]``): the row prefix and the path inside the row."""
    parts = split_path(path)
    last = max((i for i, p in enumerate(parts) if p == "[]"), default=-1)
    return parts[: last + 1], parts[last + 1:]


def _get(obj: dict[str, Any], rel: list[str]) -> tuple[bool, Any]:
    node: Any = obj
    for key in rel:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _pop(obj: dict[str, Any], rel: list[str]) -> Any:
    node: Any = obj
    for key in rel[:-1]:
        node = node[key]
    return node.pop(rel[-1])


def _parent_for_set(obj: dict[str, Any], rel: list[str]) -> dict[str, Any] | None:
    """The object that should hold ``rel[-1]``, creating empty objects on the way; None if blocked."""
    node: Any = obj
    for key in rel[:-1]:
        if key not in node:
            node[key] = {}
        node = node[key]
        if not isinstance(node, dict):
            return None
    return node


def apply_step(data: dict[str, Any], migration: dict[str, Any], *, from_version: int, to_version: int,
               to_schema: dict[str, Any], report: MigrationReport) -> dict[str, Any]:
    """Apply one version's migration block to ``data`` (a deep copy is changed and returned)."""
    data = copy.deepcopy(data)
    for rule in migration.get("dropped", []):
        prefix, rel = _split_at_row(rule["field"])
        for row, ptr in _rows(data, prefix, []):
            present, _ = _get(row, rel)
            if present:
                value = _pop(row, rel)
                report.dropped.append(DroppedValue(to_pointer([*ptr, *rel]), value, from_version,
                                                   rule["reason"]))
    for rule in migration.get("renamed", []):
        prefix, rel_from = _split_at_row(rule["from"])
        _, rel_to = _split_at_row(rule["to"])
        for row, ptr in _rows(data, prefix, []):
            present, _ = _get(row, rel_from)
            if not present:
                continue
            value = _pop(row, rel_from)
            old_ptr = to_pointer([*ptr, *rel_from])
            taken, _ = _get(row, rel_to)
            parent = None if taken else _parent_for_set(row, rel_to)
            if parent is None:
                why = (f"renamed to {rule['to']} in version {to_version}, "
                       f"but that field already had a value" if taken else
                       f"renamed to {rule['to']} in version {to_version}, but its place holds another value")
                report.dropped.append(DroppedValue(old_ptr, value, from_version, why))
                continue
            parent[rel_to[-1]] = value
            report.renamed.append((old_ptr, to_pointer([*ptr, *rel_to])))
    for rule in migration.get("defaulted", []):
        prefix, rel = _split_at_row(rule["field"])
        for row, ptr in _rows(data, prefix, []):
            present, _ = _get(row, rel)
            if present:
                continue
            parent = _parent_for_set(row, rel)
            if parent is not None:
                parent[rel[-1]] = copy.deepcopy(rule["value"])
                report.defaulted.append((to_pointer([*ptr, *rel]), rule["value"]))
    _sweep_unknown(data, to_schema, from_version=from_version, to_version=to_version, report=report)
    return data


def _sweep_unknown(data: dict[str, Any], schema: dict[str, Any], *, from_version: int, to_version: int,
                   report: MigrationReport) -> None:
    """Move fields the target version does not have out of the data and into the report."""
    known = field_schemas(schema)

    def closed(sub: dict[str, Any]) -> bool:
        return sub.get("additionalProperties") is False or sub.get("unevaluatedProperties") is False

    def walk(node: Any, pattern: str, sub: dict[str, Any], ptr: list[str | int]) -> None:
        if isinstance(node, dict):
            for key in list(node):
                child = f"{pattern}.{key}" if pattern else key
                if child in known:
                    walk(node[key], child, known[child], [*ptr, key])
                elif closed(sub):
                    value = node.pop(key)
                    if value == {}:
                        continue  # an object emptied by a rename holds nothing to keep
                    report.dropped.append(DroppedValue(
                        to_pointer([*ptr, key]), value, from_version,
                        f"not part of version {to_version} and no migration rule names it"))
        elif isinstance(node, list):
            items = sub.get("items")
            if isinstance(items, dict):
                for i, row in enumerate(node):
                    walk(row, pattern + "[]", items, [*ptr, i])

    walk(data, "", schema, [])
