"""Strict JSON request bodies: valid UTF-8, no NaN/Infinity, bounded nesting, clean strings.

Every string (keys too) is NFC-normalised, so one text has one spelling in the store, and
a string holding NUL or another control character (tab, CR and LF aside), a lone surrogate
or a bidirectional embedding/override/isolate control is refused with a 422 naming its path:
none of them has a place in case work, and bidi controls can make stored text read other
than it is (CVE-2021-42574, "Trojan Source").

The body is parsed once here; webargs reads the parsed value through
:class:`StrictParser`, so handlers never see a lenient parse.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import flask
import marshmallow as ma
import orjson
from webargs import core
from webargs.flaskparser import FlaskParser

from server.problems import Problem, invalid, pointer

MAX_DEPTH = 32
MAX_STRING_ERRORS = 20
_MISSING = object()
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _string_fault(text: str) -> str | None:
    bad = _FORBIDDEN.search(text)
    if bad is None:
        return None
    code = ord(bad.group())
    if 0xD800 <= code <= 0xDFFF:
        return "Remove the lone surrogate (an unpaired \\ud800-\\udfff escape): it is not a character."
    if code >= 0x202A:
        return f"Remove the bidirectional control U+{code:04X}: it can make text read other than it is stored."
    return f"Remove the control character U+{code:04X} (only tab, line feed and carriage return are allowed)."


def clean_strings(value: Any, raw: str | None = None) -> Any:
    """``value`` with every string NFC-normalised; raises a 422 naming the paths of refused strings.
    ``raw`` is the JSON text it was parsed from: checked whole first (in C), the walk is skipped when
    it cannot find anything. Call after the depth check (it recurses once per
    nesting level)."""
    if raw is not None and "\\u" not in raw and "\\b" not in raw and "\\f" not in raw and (
            ("\x7f" not in raw) if raw.isascii() else (not _FORBIDDEN.search(raw)
                                                       and unicodedata.is_normalized("NFC", raw))):
        # without \\u, \\b or \\f escapes (the others make tab, newline or printable ASCII) every
        # string is literal in the text: no forbidden character anywhere, and an
        # NFC text has only NFC strings (each lies between quotes, which never compose)
        return value
    faults: list[dict[str, str]] = []
    total = 0

    def clean(text: str, path: tuple, key: bool = False) -> str:
        nonlocal total
        if text.isascii() and text.isprintable():
            return text  # the common case, in C: nothing to refuse, already NFC
        fault = _string_fault(text)
        if fault:
            total += 1
            if len(faults) < MAX_STRING_ERRORS:  # a bad key is named by its object's path, never echoed
                faults.append({"path": pointer(list(path)), "message": ("A key of this object: " if key else "")
                               + fault})
            return text
        return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)

    def walk(item: Any, path: tuple) -> Any:
        if isinstance(item, str):
            return clean(item, path)
        if isinstance(item, list):
            for i, v in enumerate(item):  # in place: most items are unchanged
                if isinstance(v, (str, list, dict)):
                    new = walk(v, (*path, i))
                    if new is not v:
                        item[i] = new
            return item
        if isinstance(item, dict):
            out = {}
            for k, v in item.items():
                out[clean(k, path, True)] = walk(v, (*path, k)) if isinstance(v, (str, list, dict)) else v
            return out
        return item

    out = walk(value, ())
    if faults:
        detail = f"{total} string{'s' if total != 1 else ''} hold characters that are not allowed."
        if total > len(faults):
            detail += f" The first {len(faults)} are listed."
        raise invalid(faults, detail)
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _depth(value: Any, limit: int) -> int:
    """Nesting depth (a scalar is 1, ``{"a": 1}`` is 2), stopping once past ``limit``. Only
    containers are walked, one level at a time (a 1 MiB body can hold 75,000 small objects)."""
    if not isinstance(value, (dict, list)):
        return 1
    level, depth = [value], 1
    while level:
        if any(level):  # some container of this level holds something: one level deeper
            depth += 1
            if depth > limit:
                return depth
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
    return depth


def is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def parse_request_json(request: flask.Request) -> Any:
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
        try:  # orjson (in C) refuses NaN/Infinity too; what it refuses besides (lone surrogates, huge
            value = orjson.loads(text)  # integers, bad JSON) goes through json, for its verdict and message
        except orjson.JSONDecodeError:
            value = json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise Problem(400, "malformed-json", "The request body is not valid UTF-8.") from exc
    except (ValueError, RecursionError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        raise Problem(400, "malformed-json", f"The request body is not valid JSON{where}.") from exc
    if _depth(value, MAX_DEPTH) > MAX_DEPTH:
        raise Problem(400, "malformed-json", f"The request body is nested deeper than {MAX_DEPTH} levels.")
    return clean_strings(value, text)


def request_json() -> Any:
    """The parsed body of the current request (parsed at most once)."""
    cached = flask.g.get("_json_body", _MISSING)
    if cached is _MISSING:
        cached = parse_request_json(flask.request) if flask.request.content_length != 0 else None
        flask.g._json_body = cached
    return cached


class StrictParser(FlaskParser):
    """webargs' Flask parser reading :func:`request_json`.

    ``@blp.arguments(SomeSchema)`` names a schema class (flask-smorest documents the class); webargs
    would build an instance of it on every request (tens of microseconds for a schema with a few
    fields). One instance per class is made here and reused: loading keeps no state on the
    instance (marshmallow 4 has no schema context), so concurrent requests can share it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap, req):  # noqa: ANN001, ANN202 - webargs' signature
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas[argmap] = argmap()
            return schema
        return super()._get_schema(argmap, req)

    def load_json(self, req: flask.Request, schema) -> Any:  # noqa: ANN001
        if not is_json_mimetype(req.mimetype or ""):
            return core.missing
        value = request_json()
        return core.missing if value is None else value
