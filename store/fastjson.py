"""JSON in C (orjson) with the standard library's exact semantics where they differ.

orjson parses the documents the store wrote (and request bodies) three to five times faster than
``json.loads`` and gives the same values for them. It refuses a few texts that ``json`` accepts:
integers beyond 64 bits and lone surrogate escapes (``"\\ud800"``); those fall back to
``json.loads``, so every caller sees exactly what it saw before (ADR 0027).

orjson also encodes ten times faster than ``json.dumps``, but it accepts what the store must refuse
(NaN and infinities, written as ``null``; UUIDs, enums, dates) and writes non-ASCII unescaped.
:func:`dumps_data` uses it only where it is provably the same JSON (ADR 0038).
"""

from __future__ import annotations

import json
import marshal
from typing import Any

import orjson

#: ``json.dumps(value, separators=(",", ":"), allow_nan=False[, sort_keys=True])``: one encoder each, not one per call
COMPACT = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
SORTED = json.JSONEncoder(separators=(",", ":"), allow_nan=False, sort_keys=True)


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``, faster."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps_data(value: Any, *, sort_keys: bool = False) -> str:
    """``json.dumps(value, separators=(",", ":"), allow_nan=False, sort_keys=sort_keys)``, faster:
    the same JSON value (numbers perhaps spelt otherwise: ``1e-5`` or ``0.00001`` for ``1e-05``),
    always ASCII, and the same exception for whatever ``json`` refuses.

    orjson's text is used only when all of these hold, else the standard library encodes:

    - ``marshal`` takes the value: it is built of the exact core types only (dict, list, tuple,
      str, int, float, bool, None: no subclass, UUID, enum, date or dataclass, which orjson would
      write and ``json`` refuses; bytes, sets and the like orjson refuses as well);
    - no 0x7F or 0xFF byte in marshal's bytes: a NaN or an infinity (which orjson writes as
      ``null``) is a float whose last byte, sign and top exponent bits, is one of those two; so is a
      DEL character in a string (which ``json`` escapes); other values with such a byte (a
      negative int, say) only take the slower path;
    - orjson's text is ASCII (``json`` escapes every other character as ``\\uXXXX``), and orjson
      took the value (integers beyond 64 bits and non-string keys it refuses).

    With ``sort_keys`` the keys are in the same order: orjson sorts them as Python does for the
    ASCII keys it may keep (non-string keys it refuses).
    """
    try:
        typed = marshal.dumps(value, 2)
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS) if sort_keys else orjson.dumps(value)
    except Exception:  # noqa: BLE001 - anything either refuses: json decides (and raises what it raised)
        text = None
    if text is not None and text.isascii() and b"\x7f" not in typed and b"\xff" not in typed:
        return text.decode("ascii")
    return (SORTED if sort_keys else COMPACT).encode(value)


def dumps_compact(value: Any) -> str:
    """``json.dumps(value, separators=(",", ":"))`` for a value parsed from JSON, faster: orjson's text
    when it is ASCII (the same JSON, numbers spelt perhaps otherwise: ``1e-5`` for ``1e-05``), else
    the standard library's, with its ``\\uXXXX`` escapes (the store's texts stay ASCII)."""
    try:
        text = orjson.dumps(value).decode()
    except orjson.JSONEncodeError:  # an integer beyond 64 bits
        text = None
    if text is None or not text.isascii():
        text = json.dumps(value, separators=(",", ":"))
    return text
