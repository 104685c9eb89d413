"""Structured (JSON lines) logging that carries ids, never names or other personal data."""

from __future__ import annotations

import json
import logging
import sys

from sync.clock import Clock, rfc3339

_clock = Clock()
#: client_address: the staff member's network address (behind CASEFLOW_TRUSTED_PROXIES, the client the
#: proxy names), for the operator's access log; never case data (docs/security.md)
SAFE_FIELDS = ("request_id", "method", "route", "status", "duration_ms", "user_id", "device_id",
               "client_address", "case_id", "mutation_id", "problem", "event", "counts", "pid")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"at": rfc3339(_clock.now()), "level": record.levelname, "logger": record.name,
               "msg": record.getMessage()}
        for key in SAFE_FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
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
    # waitress and werkzeug log raw request lines and tracebacks: keep them quiet
    logging.getLogger("waitress").setLevel(logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
