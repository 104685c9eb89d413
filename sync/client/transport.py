"""HTTP for the device: JSON over stdlib ``http.client``, retried with exponential backoff and jitter.

Retried: connection errors, timeouts, a response cut off, 5xx, and 429 (``Retry-After`` honoured).
Push is safe to retry whole because the server applies each mutation exactly once; anything else
(4xx) is an answer and goes back to the caller.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


class Unavailable(Exception):
    """The server could not be reached (or kept failing) after every retry."""


@dataclass
class RetryPolicy:
    attempts: int = 8
    base: float = 0.2  # seconds; doubled per attempt
    cap: float = 30.0
    retry_after_cap: float = 120.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2**attempt)], so that
        devices coming back online together do not retry in lock step."""
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** attempt))


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def problem_type(self) -> str:
        kind = self.body.get("type", "") if isinstance(self.body, dict) else ""
        return kind.rsplit("/", 1)[-1]


RETRYABLE = (OSError, http.client.HTTPException, socket.timeout, ValueError)


class Http:
    def __init__(self, base_url: str, *, timeout: float = 30.0, retry: RetryPolicy | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the server URL is http(s)://host[:port]")
        self.base_url = base_url.rstrip("/")
        self._parts = parts
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.retries = 0  # how many times a request was sent again (for reports and tests)

    def _once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Response:
        cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        conn = cls(self._parts.hostname, self._parts.port, timeout=self.timeout)
        try:
            conn.request(method, (self._parts.path.rstrip("/") or "") + path, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()  # IncompleteRead (an HTTPException) when the answer is cut off
            payload = json.loads(raw) if raw else None  # a torn JSON body is a ValueError: retried
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload)
        finally:
            conn.close()

    def request(self, method: str, path: str, *, json_body: Any = None, token: str | None = None,
                query: dict[str, Any] | None = None) -> Response:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Accept": "application/json"}
        body = None
        if json_body is not None:
            body = json.dumps(json_body, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        last: str = ""
        for attempt in range(self.retry.attempts):
            if attempt:
                self.retries += 1
            try:
                resp = self._once(method, path, body, headers)
            except RETRYABLE as exc:
                last = type(exc).__name__
                self.sleep(self.retry.delay(attempt))
                continue
            if resp.status == 429 or resp.status >= 500:
                last = f"HTTP {resp.status}"
                wait = self.retry.delay(attempt)
                if resp.status == 429 and resp.headers.get("retry-after", "").isdigit():
                    wait = min(float(resp.headers["retry-after"]), self.retry.retry_after_cap)
                self.sleep(wait)
                continue
            return resp
        raise Unavailable(f"{method} {path.split('?')[0]} failed after {self.retry.attempts} attempts ({last})")
