"""The in-memory form of a document and the small helpers every part of the embedded store shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
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
