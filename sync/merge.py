"""Three-way merge of form data edited offline: nothing anyone typed is lost.

``merge(base, ours, theirs)``: ``base`` is the revision the client edited from, ``ours`` the
server's current data, ``theirs`` the incoming edit. Objects merge key by key; arrays whose items
are objects with a ``row_id`` merge row by row (rows matched by id, order of ``ours`` kept, new
rows of ``theirs`` appended); any other value is atomic. Where both sides changed the same value
differently the server keeps ``ours`` and reports a :class:`FieldConflict` holding both values, for
a person to resolve.

``seen_base(base, later)`` is the base as the incoming device knows it: a device has seen its own
earlier edits even when it queued the next one from the same ``base_version`` offline, so the
values its own later revisions set count as its base (ADR 0007). Merging from that base, a value
the device itself wrote and nobody changed since is replaced by its new edit instead of clashing
with it; a value someone else changed since is merged or conflicted as before.

``resolved_data(data, conflict, payload)`` is a conflict's resolution applied: the conflict's field
(its JSON Pointer, as :class:`FieldConflict` spells it) set to the incoming edit or a chosen value.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
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


def seen_base(base: Any, later: Iterable[tuple[Any, bool]]) -> Any:
    """``later``: the data of each revision after ``base``, in order, with whether the incoming
    device wrote it. Each value one of the device's revisions changed (against the revision before
    it) becomes the device's known value there; other revisions change nothing the device knows."""
    known, previous = base, base
    for data, mine in later:
        if mine:
            known = _advance(known, previous, data)
        previous = data
    return known


def _advance(known: Any, previous: Any, current: Any) -> Any:
    if previous == current:
        return known
    if isinstance(previous, dict) and isinstance(current, dict):
        # as in _merge, a base that is not an object counts as an empty one under two objects
        out = dict(known) if isinstance(known, dict) else {}
        for key in list(previous) + [k for k in current if k not in previous]:
            value = _advance(out.get(key, _ABSENT), previous.get(key, _ABSENT), current.get(key, _ABSENT))
            if value is _ABSENT:
                out.pop(key, None)
            else:
                out[key] = value
        return out
    if _is_rows(previous) and _is_rows(current):
        if not (known is _ABSENT or _is_rows(known)):
            return known  # _merge would clash on the whole list anyway: claim no knowledge
        return _advance_rows(known if isinstance(known, list) else [], previous, current)
    return current  # an atomic value (or an added / removed one) this device wrote


def _advance_rows(known: list, previous: list, current: list) -> list:
    prev_by_id = {r["row_id"]: r for r in previous}
    cur_by_id = {r["row_id"]: r for r in current}
    known_ids = {r["row_id"] for r in known}
    out = []
    for row in known:
        rid = row["row_id"]
        value = _advance(row, prev_by_id.get(rid, _ABSENT), cur_by_id.get(rid, _ABSENT))
        if value is not _ABSENT:
            out.append(value)
    for row in current:
        # a row the device added; a row it does not know of it cannot have edited (claim nothing)
        if row["row_id"] not in known_ids and row["row_id"] not in prev_by_id:
            out.append(row)
    return out


# -- resolving a conflict ------------------------------------------------------------------------
def resolved_data(data: Any, conflict: Mapping[str, Any], payload: Mapping[str, Any]) -> Any:
    """The form's data with the conflict's field set to the incoming edit (``choose=incoming``) or to
    ``payload["value"]``; None when that field's parent is gone (a later save removed its row)."""
    incoming = payload.get("choose") == "incoming"
    value = conflict["incoming"] if incoming else payload.get("value")
    absent = conflict["incoming_absent"] if incoming else "value" not in payload
    try:
        return _set_pointer(data, conflict["path"], value, absent)
    except _Gone:
        return None


class _Gone(Exception):
    """The pointer's parent does not exist (any more) in the data."""


def _set_pointer(data: Any, pointer: str, value: Any, absent: bool) -> Any:
    root = copy.deepcopy(data)
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    if not parts:
        return value
    node = root
    for part in parts[:-1]:
        node = _step(node, part)
    last = parts[-1]
    if isinstance(node, list) and last.startswith("row_id="):
        idx = _row_index(node, last[len("row_id="):])
        if absent:
            if idx is not None:
                node.pop(idx)
        elif idx is None:
            node.append(value)
        else:
            node[idx] = value
    elif not isinstance(node, dict):
        raise _Gone(pointer)
    elif absent:
        node.pop(last, None)
    else:
        node[last] = value
    return root


def _row_index(rows: list[Any], row_id: str) -> int | None:
    return next((i for i, r in enumerate(rows) if isinstance(r, dict) and r.get("row_id") == row_id), None)


def _step(node: Any, part: str) -> Any:
    if isinstance(node, list) and part.startswith("row_id="):
        idx = _row_index(node, part[len("row_id="):])
        if idx is None:
            raise _Gone(part)
        return node[idx]
    if not isinstance(node, dict) or part not in node:
        raise _Gone(part)
    return node[part]
