"""RFC 9457 problem details: the one shape of every error that leaves the server.

Handlers and services raise :class:`Problem`; the app turns it (and every
werkzeug/webargs/JWT error) into ``application/problem+json``. Details name
fields and rules, never submitted values or personal data.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json

from sync.problems import Problem

PROBLEM_MIME = "application/problem+json"

__all__ = ["PROBLEM_MIME", "Problem", "flatten_marshmallow", "invalid", "pointer", "problem_response"]



def problem_response(problem: Problem) -> Response:
    resp = Response(json.dumps(problem.to_dict()), status=problem.status, mimetype=PROBLEM_MIME)
    for key, value in problem.headers.items():
        resp.headers[key] = value
    return resp


def invalid(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    """422 naming every bad field (JSON Pointer paths)."""
    count = len(errors)
    return Problem(
        422,
        "validation-error",
        detail or f"{count} field{'s' if count != 1 else ''} failed validation.",
        title="Your request has invalid fields",
        errors=errors,
    )


def pointer(parts: list[Any] | tuple[Any, ...]) -> str:
    """JSON Pointer (RFC 6901) from path parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def flatten_marshmallow(messages: Any, prefix: tuple = ()) -> list[dict[str, str]]:
    """marshmallow/webargs nested messages -> [{path, message}] with JSON Pointers."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.extend(flatten_marshmallow(value, (*prefix, key)))
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            for m in messages:
                out.append({"path": pointer(list(prefix)), "message": m})
        else:
            for item in messages:
                out.extend(flatten_marshmallow(item, prefix))
    else:
        out.append({"path": pointer(list(prefix)), "message": str(messages)})
    return out
