"""Structured (JSON lines) logging that carries ids, never names or other personal data."""

from __future__ import annotations

import json
import logging
import sys
import time

#: client_address: the staff member's network address (behind CASEFLOW_TRUSTED_PROXIES, the client the
#: proxy names), for the operator's access log; never case data (docs/security.md)
SAFE_FIELDS = ("request_id", "method", "route", "status", "duration_ms", "user_id", "device_id",
               "client_address", "case_id", "mutation_id", "problem", "event", "counts", "pid")


_second: list[tuple[int, str]] = [(-1, "")]  # the last second formatted, and its text


def _at(record: logging.LogRecord) -> str:
    """When ``record`` was made, RFC 3339 UTC to the millisecond (``2026-12-07T09:50:26.432Z``);
    the text up to the second is made once per second."""
    second = int(record.created)
    cached = _second[0]  # one tuple: another thread may replace it, never half of it
    if cached[0] != second:
        cached = _second[0] = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # "at": when the record was made (logging's own clock, as the standard formatters use)
        out = {"at": _at(record), "level": record.levelname, "logger": record.name,
               "msg": record.getMessage()}
        fields = record.__dict__  # what ``extra=`` gave is set on the record itself
        for key in SAFE_FIELDS:
            if key in fields:
                out[key] = fields[key]
        if record.exc_info:
            # exception type only: messages and tracebacks may quote submitted data
            out["exception"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(out)


def configure(level: str = "INFO", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("caseflow")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # what a JSON line never carries, so no record computes it: the caller's file, line and function
    # (a walk of the stack per record), the thread and process names (the pid is a field of its own
    # where it matters). The logging HOWTO's "Optimization" switches; about 2 us of a 12 us line.
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # waitress and werkzeug log raw request lines and tracebacks: keep them quiet
    logging.getLogger("waitress").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
