"""RFC 9457 problem details: the one shape of every error that leaves the server.

Handlers and services raise :class:`Problem`; the app turns it (and every
werkzeug/webargs/JWT error) into ``application/problem+json``. Details name
fields and rules, never submitted values or personal data.
"""

from __future__ import annotations

from flask import Response, json

from sync.problems import Problem, flatten_marshmallow, invalid, pointer

PROBLEM_MIME = "application/problem+json"

__all__ = ["PROBLEM_MIME", "Problem", "flatten_marshmallow", "invalid", "pointer", "problem_response"]


def problem_response(problem: Problem) -> Response:
    resp = Response(json.dumps(problem.to_dict()), status=problem.status, mimetype=PROBLEM_MIME)
    for key, value in problem.headers.items():
        resp.headers[key] = value
    return resp
