"""Three-way merge of form data edited offline: nothing anyone typed is lost.

``merge(base, ours, theirs)``: ``base`` is the revision the client edited from, ``ours`` the
server's current data, ``theirs`` the incoming edit. Objects merge key by key; arrays whose items
are objects with a ``row_id`` merge row by row (rows matched by id, order of ``ours`` kept, new
rows of ``theirs`` appended); any other value is atomic. Where both sides changed the same value
differently the server keeps ``ours`` and reports a :class:`FieldConflict` holding both values, for
a person to resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_ABSENT = object()


@dataclass(frozen=True)
class FieldConflict:
    path: str  # JSON Pointer into the form data
    base: Any
    kept: Any  # the server's value, still in the record
    incoming: Any  # the other edit, kept in the conflict record

    def to_dict(self) -> dict[str, Any]:
        def plain(v: Any) -> Any:
            return None if v is _ABSENT else v

        return {"path": self.path, "base": plain(self.base), "kept": plain(self.kept),
                "incoming": plain(self.incoming), "kept_absent": self.kept is _ABSENT,
                "incoming_absent": self.incoming is _ABSENT}


def _pointer(parts: tuple) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(r, dict) and isinstance(r.get("row_id"), str) for r in value)


def merge(base: Any, ours: Any, theirs: Any) -> tuple[Any, list[FieldConflict]]:
    conflicts: list[FieldConflict] = []
    merged = _merge(base, ours, theirs, (), conflicts)
    return (None if merged is _ABSENT else merged), conflicts


def _merge(base: Any, ours: Any, theirs: Any, path: tuple, out: list[FieldConflict]) -> Any:
    if ours == theirs:
        return ours
    if theirs == base:
        return ours  # only the server side changed
    if ours == base:
        return theirs  # only the incoming side changed
    if isinstance(ours, dict) and isinstance(theirs, dict):
        b = base if isinstance(base, dict) else {}
        result: dict[str, Any] = {}
        for key in list(ours) + [k for k in theirs if k not in ours]:
            value = _merge(b.get(key, _ABSENT), ours.get(key, _ABSENT), theirs.get(key, _ABSENT), (*path, key), out)
            if value is not _ABSENT:
                result[key] = value
        return result
    if _is_rows(ours) and _is_rows(theirs) and (base is _ABSENT or _is_rows(base)):
        return _merge_rows(base if isinstance(base, list) else [], ours, theirs, path, out)
    out.append(FieldConflict(_pointer(path), base, ours, theirs))
    return ours


def _merge_rows(base: list, ours: list, theirs: list, path: tuple, out: list[FieldConflict]) -> list:
    by_id = {"base": {r["row_id"]: r for r in base}, "theirs": {r["row_id"]: r for r in theirs}}
    ours_ids = [r["row_id"] for r in ours]
    result = []
    for row in ours:
        rid = row["row_id"]
        merged = _merge(by_id["base"].get(rid, _ABSENT), row, by_id["theirs"].get(rid, _ABSENT),
                        (*path, f"row_id={rid}"), out)
        if merged is not _ABSENT:
            result.append(merged)
    for row in theirs:
        rid = row["row_id"]
        if rid in ours_ids:
            continue
        merged = _merge(by_id["base"].get(rid, _ABSENT), _ABSENT, row, (*path, f"row_id={rid}"), out)
        if merged is not _ABSENT:
            result.append(merged)
    return result
