"""A real Web Push service on loopback: the injected fake of the *external* push service.

It checks what RFC 8030/8291/8292 ask of an application server and decrypts every body the way
a browser would:

* ``Authorization: vapid t=<JWT>,k=<key>``: ES256 signature verified with ``k``, ``k`` is the
  server's VAPID public key, ``aud`` is this service's origin, ``exp`` is in the future and at
  most 24 hours ahead, ``sub`` is a mailto:/https: contact;
* ``Content-Encoding: aes128gcm``, a ``TTL``, an ``Urgency`` and a ``Topic`` of at most 32
  base64url characters;
* the body decrypts (http_ece) with the subscription's private key and auth secret, to JSON.

A request that fails a check is answered 400/401/403 and recorded in ``errors``. Per endpoint
path, a script of answers can be queued: a status (201, 404, 410, 413, 500, ...), ``("429", s)``
with ``Retry-After: s``, ``("slow", s)`` (answer 201 after ``s`` seconds) or ``"hold"`` (never
answer; drop the connection when released).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt as pyjwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

X962 = (serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64u_dec(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """What a browser generates per subscription."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def keys(self) -> dict[str, str]:
        return {"p256dh": b64u(self.key.public_key().public_bytes(*X962)), "auth": b64u(self.auth)}


@dataclass
class Receipt:
    path: str
    headers: dict[str, str]
    payload: dict | None
    status: int
    claims: dict | None
    at: float


class FakePushService:
    def __init__(self, vapid_public_key: str | None = None):
        self.vapid_public_key = vapid_public_key
        self.browsers: dict[str, Browser] = {}
        self.scripts: dict[str, list[Any]] = defaultdict(list)
        self.receipts: list[Receipt] = []
        self.errors: list[str] = []
        self.raw_bodies: list[bytes] = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.held = threading.Event()  # set when a "hold" request arrived
        self.arrived = threading.Condition(self.lock)
        self.in_flight = 0
        self.aborted = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                with service.arrived:
                    service.in_flight += 1
                try:
                    service._handle(self)
                finally:
                    with service.arrived:
                        service.in_flight -= 1
                        service.arrived.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- set-up ----------------------------------------------------------------------------------
    def start(self) -> FakePushService:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def subscription(self, path: str | None = None) -> dict[str, Any]:
        path = path or f"/push/{os.urandom(8).hex()}"
        browser = self.browsers.setdefault(path, Browser())
        return {"endpoint": self.origin + path, "keys": browser.keys()}

    def script(self, path: str, *answers: Any) -> None:
        with self.lock:
            self.scripts[path].extend(answers)

    # -- results ---------------------------------------------------------------------------------
    def accepted(self, path: str | None = None) -> list[Receipt]:
        with self.lock:
            return [r for r in self.receipts if r.status == 201 and (path is None or r.path == path)]

    def payloads(self, path: str | None = None) -> list[dict]:
        return [r.payload for r in self.accepted(path)]

    def visible(self, path: str) -> dict[str, dict]:
        """The messages a device would show: newest per Topic (RFC 8030 replacement) per path."""
        out: dict[str, dict] = {}
        for r in self.accepted(path):
            out[r.headers["topic"]] = r.payload
        return out

    def settle(self, timeout: float = 10.0, quiet: float = 0.5) -> None:
        """Wait until no request is being handled and none arrived for ``quiet`` seconds (after a
        client was killed: a request it wrote may still sit in the listen backlog)."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            seen, since = len(self.receipts) + self.aborted, time.monotonic()
            while time.monotonic() < deadline:
                now_seen = len(self.receipts) + self.aborted
                if now_seen != seen or self.in_flight:
                    seen, since = now_seen, time.monotonic()
                elif time.monotonic() - since >= quiet:
                    return
                self.arrived.wait(0.05)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len([r for r in self.receipts if r.status == 201]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.arrived.wait(left)
            return [r for r in self.receipts if r.status == 201]

    # -- the service -----------------------------------------------------------------------------
    def _verify(self, handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict | None, dict | None, str]:
        headers = {k.lower(): v for k, v in handler.headers.items()}
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("vapid "):
            return 401, None, None, "no VAPID authorization"
        try:
            parts = dict(p.strip().split("=", 1) for p in auth.split(" ", 1)[1].split(","))
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64u_dec(parts["k"]))
            claims = pyjwt.decode(parts["t"], key, algorithms=["ES256"], audience=self.origin,
                                  options={"require": ["exp", "aud", "sub"]})
        except Exception as exc:  # noqa: BLE001
            return 401, None, None, f"bad VAPID JWT: {type(exc).__name__}"
        if self.vapid_public_key and parts["k"] != self.vapid_public_key:
            return 403, None, claims, "VAPID key is not the one the subscription was made with"
        now = time.time()
        if not (now < claims["exp"] <= now + 24 * 3600):
            return 403, None, claims, "exp not within 24 h"
        if not str(claims["sub"]).startswith(("mailto:", "https:")):
            return 403, None, claims, "sub is not mailto:/https:"
        if headers.get("content-encoding") != "aes128gcm":
            return 400, None, claims, "content-encoding is not aes128gcm"
        if not headers.get("ttl", "").isdigit():
            return 400, None, claims, "no TTL"
        if headers.get("urgency") not in ("very-low", "low", "normal", "high"):
            return 400, None, claims, "bad Urgency"
        if not TOPIC.match(headers.get("topic", "")):
            return 400, None, claims, "bad Topic"
        if len(body) > 4096:
            return 413, None, claims, "body over 4096 bytes"
        browser = self.browsers.get(handler.path)
        if browser is None:
            return 404, None, claims, "unknown subscription"
        try:
            plain = http_ece.decrypt(body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm")
            payload = json.loads(plain)
        except Exception as exc:  # noqa: BLE001
            return 400, None, claims, f"cannot decrypt: {type(exc).__name__}"
        return 201, payload, claims, ""

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", 0))
        try:
            body = handler.rfile.read(length)
        except OSError:
            body = b""
        if len(body) != length:  # the client died mid-upload: nothing was received
            handler.close_connection = True
            with self.lock:
                self.aborted += 1
            return
        headers = {k.lower(): v for k, v in handler.headers.items()}
        status, payload, claims, error = self._verify(handler, body)
        with self.lock:
            self.raw_bodies.append(body)
            answer = self.scripts[handler.path].pop(0) if self.scripts[handler.path] else None
        extra_headers: dict[str, str] = {}
        if error:
            with self.lock:
                self.errors.append(f"{handler.path}: {error}")
        elif answer == "hold":
            with self.lock:
                self.receipts.append(Receipt(handler.path, headers, payload, 0, claims, time.time()))
            self.held.set()
            self.release.wait(60)
            handler.close_connection = True
            return
        elif isinstance(answer, tuple) and answer[0] == "slow":
            time.sleep(answer[1])
        elif isinstance(answer, tuple) and answer[0] == "429":
            status = 429
            extra_headers["Retry-After"] = str(answer[1])
        elif isinstance(answer, int):
            status = answer
        with self.arrived:
            self.receipts.append(Receipt(handler.path, headers, payload, status, claims, time.time()))
            self.arrived.notify_all()
        reply = b"" if status == 201 else json.dumps({"error": status}).encode()
        try:
            handler.send_response(status)
            for k, v in extra_headers.items():
                handler.send_header(k, v)
            if status == 201:
                handler.send_header("Location", f"{self.origin}/message/{os.urandom(4).hex()}")
            handler.send_header("Content-Length", str(len(reply)))
            handler.end_headers()
            handler.wfile.write(reply)
        except OSError:
            pass
