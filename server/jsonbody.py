"""Strict JSON request bodies: valid UTF-8, no NaN/Infinity, bounded nesting.

The body is parsed once here; webargs reads the parsed value through
:class:`StrictParser`, so handlers never see a lenient parse.
"""

from __future__ import annotations

import json
from typing import Any

import flask
from webargs import core
from webargs.flaskparser import FlaskParser

from server.problems import Problem

MAX_DEPTH = 32
_MISSING = object()


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
    return value


def request_json() -> Any:
    """The parsed body of the current request (parsed at most once)."""
    cached = flask.g.get("_json_body", _MISSING)
    if cached is _MISSING:
        cached = parse_request_json(flask.request) if flask.request.content_length != 0 else None
        flask.g._json_body = cached
    return cached


class StrictParser(FlaskParser):
    def load_json(self, req: flask.Request, schema) -> Any:  # noqa: ANN001
        if not is_json_mimetype(req.mimetype or ""):
            return core.missing
        value = request_json()
        return core.missing if value is None else value
