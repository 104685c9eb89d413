"""Problem details (RFC 9457) raised by the write path and turned into HTTP answers by the server.

A rejected mutation carries the same problem as its online twin's HTTP error.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "https://caseflow.example/problems/"

#: a problem lists at most this many field errors and counts the rest in ``errors_omitted``
#: (a 60,000-item array once got a 5 MB answer; ADR 0012)
MAX_LISTED_ERRORS = 100

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """An error with an HTTP status, a stable ``type`` slug and a plain-English detail.

    ``errors`` longer than :data:`MAX_LISTED_ERRORS` keeps its first entries (callers sort by path)
    and ``errors_omitted`` says how many more there were."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or TITLES.get(status, "Error")
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra
        if errors is not None and len(errors) > MAX_LISTED_ERRORS:
            self.errors = errors[:MAX_LISTED_ERRORS]
            self.extra["errors_omitted"] = len(errors) - MAX_LISTED_ERRORS + extra.get("errors_omitted", 0)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Problem:
        known = {"type", "title", "status", "detail", "errors"}
        extra = {k: v for k, v in body.items() if k not in known}
        return cls(body["status"], body["type"].rsplit("/", 1)[-1], body["detail"], title=body.get("title"),
                   errors=body.get("errors"), **extra)


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
