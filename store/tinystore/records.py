"""The in-memory form of a document and the small helpers every part of the embedded store shares."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple

from ..fastjson import dumps_data


class Rec(NamedTuple):
    """State of one document (committed or pending). ``data`` is its JSON text (None: tombstone)."""

    version: int
    seq: int
    deleted: bool
    data: str | None


def _gc_untrack() -> Callable[[Any], None]:
    """CPython's ``PyObject_GC_UnTrack``, or a no-op elsewhere."""
    if platform.python_implementation() != "CPython":
        return lambda obj: None
    try:
        import ctypes

        fn = ctypes.pythonapi.PyObject_GC_UnTrack
    except (ImportError, AttributeError):  # pragma: no cover - CPython always has it
        return lambda obj: None
    fn.argtypes = [ctypes.py_object]
    fn.restype = None
    return fn


untrack_rec = _gc_untrack()
"""Take a committed ``Rec`` out of the cyclic garbage collector's lists (ADR 0036). A ``Rec`` holds
only ints, a bool and a str or None, so it can never be part of a reference cycle: the collector has
nothing to find in it, and it is still freed by reference counting like any object. Tracked (as a
tuple subclass it always is: CPython untracks only exact tuples), every record committed since
start-up would be walked by every full collection, a pause for every thread that grows with the
store."""

Key = tuple[str, str]  # (collection, id)
MISSING = object()
EMPTY: dict[str, Rec] = {}


def jd(value: Any) -> str:
    """``json.dumps(value)``; a string (a collection or document id) straight to the C escaper json uses."""
    if type(value) is str:
        return encode_basestring_ascii(value)
    return json.dumps(value)


def dump_data(data: Any) -> str:
    if not isinstance(data, Mapping):
        raise TypeError(f"document data must be a mapping, not {type(data).__name__}")
    if not isinstance(data, dict):
        data = dict(data)
    return dumps_data(data)


def check_name(kind: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must be a non-empty string, not {value!r}")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
