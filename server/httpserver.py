"""The HTTP server of ``caseflow serve``: waitress, guarded against slow and idle connections.

waitress reads requests on one asyncore loop and hands only complete requests to its threads,
so a slow client costs a socket, not a thread. What stalled the service was waitress's limits:
100 connections at most (then it stops accepting), and an idle timeout that every trickled byte
resets. This module adds what waitress lacks (ADR 0014):

- a deadline for the request head (``header_timeout``) and for the whole request
  (``request_timeout``), counted from its first byte, however slowly the bytes arrive;
- a cap on concurrent connections per peer address (peers in ``CASEFLOW_TRUSTED_PROXIES`` are
  exempt: a reverse proxy carries everyone's connections and limits them itself);
- a poll()-based loop and a connection limit far above 100;
- every error waitress answers itself (400, 413, 431, 500, ...) as problem+json, logged.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import resource
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from server.config import env_number
from server.problems import PROBLEM_MIME
from sync.problems import Problem

log = logging.getLogger("caseflow.http")

_SLUGS = {400: "bad-request", 408: "request-timeout", 413: "request-entity-too-large",
          431: "request-header-fields-too-large", 500: "internal-error", 501: "not-implemented"}
_DETAILS = {
    400: "The HTTP request is malformed.",
    413: "The request body is larger than this server accepts.",
    431: "The request headers are larger than this server accepts.",
    501: "This server does not implement that (e.g. the transfer encoding).",
}


@dataclass(frozen=True)
class ConnectionLimits:
    """Connection settings from ``CASEFLOW_*`` variables (documented in docs/deploy.md)."""

    header_timeout: float = 15.0  # seconds from a request's first byte to the end of its head
    request_timeout: float = 120.0  # seconds from a request's first byte to the end of its body
    idle_timeout: int = 60  # seconds a keep-alive connection may sit idle between requests
    max_connections: int = 1000  # all connections at once
    max_per_address: int = 64  # connections at once from one peer address (0: no cap)
    max_header_bytes: int = 32 * 1024

    @classmethod
    def from_env(cls) -> ConnectionLimits:
        return cls(
            header_timeout=env_number("CASEFLOW_HEADER_TIMEOUT_SECONDS", cls.header_timeout, float, 0.5),
            request_timeout=env_number("CASEFLOW_REQUEST_TIMEOUT_SECONDS", cls.request_timeout, float, 1.0),
            idle_timeout=env_number("CASEFLOW_IDLE_TIMEOUT_SECONDS", cls.idle_timeout, int, 1),
            max_connections=env_number("CASEFLOW_MAX_CONNECTIONS", cls.max_connections, int, 10),
            max_per_address=env_number("CASEFLOW_MAX_CONNECTIONS_PER_ADDRESS", cls.max_per_address, int, 0),
            max_header_bytes=env_number("CASEFLOW_MAX_HEADER_BYTES", cls.max_header_bytes, int, 4096),
        )


def problem_bytes(status: int, request_id: str) -> bytes:
    slug = _SLUGS.get(status, "http-error")
    detail = _DETAILS.get(status, "The HTTP server refused this request.")
    body = Problem(status, slug, detail, request_id=request_id).to_dict()
    return json.dumps(body).encode()


class ProblemErrorTask(ErrorTask):
    """waitress's own error answers (malformed request, 413, 431, ...) as problem+json."""

    def execute(self) -> None:
        error = self.request.error
        request_id = uuid.uuid4().hex
        body = problem_bytes(error.code, request_id)
        log.warning("request refused by the HTTP server",
                    extra={"request_id": request_id, "status": error.code, "problem": _SLUGS.get(error.code)})
        self.status = f"{error.code} {error.reason}"
        self.response_headers.extend([
            ("Content-Type", PROBLEM_MIME), ("X-Request-Id", request_id), ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class GuardedChannel(HTTPChannel):
    """A connection that remembers when the request it is reading began."""

    error_task_class = ProblemErrorTask
    request_started: float | None = None

    def writable(self) -> bool:
        if (self.requests and self.total_outbufs_len and not (self.will_close or self.close_when_flushed)
                and self.total_outbufs_len <= self.adj.outbuf_high_watermark):
            # A task is running and has output queued. While it holds the out-buffer lock it is in
            # write_soon, sending that output itself; polling for "writable" now only finds the lock
            # taken, again and again until the task lets go (several empty loops per request, each
            # a poll() and the GIL passed back and forth). It pulls the trigger whenever it leaves
            # output unsent, and always when it ends, so the loop looks again then. Above the
            # high-water mark the task waits for this loop to drain: no shortcut there.
            if not self.outbuf_lock.acquire(False):
                return False
            self.outbuf_lock.release()
        return super().writable()

    def received(self, data: bytes) -> bool:
        if data and self.request is None:
            self.request_started = time.monotonic()
        result = super().received(data)
        if self.request is None:
            self.request_started = None  # nothing half-read (complete, or not begun)
        return result


class GuardedServer(TcpWSGIServer):
    channel_class = GuardedChannel
    limits: ConnectionLimits = ConnectionLimits()
    exempt: tuple = ()  # peer networks with no per-address cap (trusted reverse proxies)

    def handle_accept(self) -> None:
        try:
            pair = self.accept()
        except OSError:
            return
        if pair is None:
            return
        conn, addr = pair
        peer = addr[0] if isinstance(addr, tuple) else ""
        cap = self.limits.max_per_address
        if cap and not self._exempt(peer):
            count = sum(1 for ch in self.active_channels.values() if _peer(ch) == peer)
            if count >= cap:
                _refuse(conn)
                self._refused += 1
                return
        self.set_socket_options(conn)
        self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def _exempt(self, peer: str) -> bool:
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in self.exempt)

    _refused = 0

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # idle keep-alive connections (channel_timeout)
        mono = time.monotonic()
        slow = 0
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", None)
            request = channel.request
            if started is None or request is None or channel.will_close:
                continue
            limit = self.limits.request_timeout if request.headers_finished else self.limits.header_timeout
            if mono - started > limit:
                channel.will_close = True
                slow += 1
        if slow or self._refused:
            log.warning("closed slow connections", extra={"event": {"slow_closed": slow,
                                                                     "refused_over_address_cap": self._refused}})
            self._refused = 0


def _peer(channel: HTTPChannel) -> str:
    addr = getattr(channel, "addr", None)
    return addr[0] if isinstance(addr, tuple) else ""


def _refuse(conn) -> None:  # noqa: ANN001 - a socket
    """A short 503 problem (best effort, never blocking) and close."""
    body = problem_bytes(503, uuid.uuid4().hex).replace(b'"http-error"', b'"too-many-connections"')
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: {PROBLEM_MIME}\r\nContent-Length: {len(body)}\r\n"
            "Retry-After: 5\r\nConnection: close\r\n\r\n").encode()
    try:
        conn.setblocking(False)
        conn.send(head + body)
    except OSError:
        pass
    finally:
        conn.close()


#: requests served by the push lane: one thread, in arrival order (ADR 0039)
LANE_ROUTES = frozenset({("POST", "/api/v1/sync/push")})


class LaneDispatcher(ThreadedTaskDispatcher):
    """The push lane's one thread. A queue behind it is its design, not a backlog to warn of."""

    def start_new_thread(self, target, thread_no) -> None:  # noqa: ANN001 - as waitress's
        threading.Thread(target=target, name=f"push-lane-{thread_no}", args=(thread_no,), daemon=True).start()

    def add_task(self, task) -> None:  # noqa: ANN001 - a waitress channel
        with self.lock:
            self.queue.append(task)
            self.queue_cv.notify()


class LanedDispatcher:
    """waitress's task dispatcher, with the sync pushes on a lane of their own (ADR 0039).

    On the embedded store every push's unit of work runs under one write lock, and under the GIL
    several threads never run Python at once: a push gains nothing from a second thread but the
    hand-offs of the GIL and the lock between them (measured: 20% more server CPU per one-mutation
    push with 4 devices on 8 threads than on one). So pushes queue for one thread, in the order they
    arrived; every other request (pulls, logins, exports, the app) keeps the pool, so a long export
    never holds a push back nor a push an export."""

    def __init__(self, threads: int):
        self.pool = ThreadedTaskDispatcher()
        self.pool.set_thread_count(threads)
        self.lane = LaneDispatcher()
        self.lane.set_thread_count(1)

    def add_task(self, channel) -> None:  # noqa: ANN001 - a waitress channel with a request to serve
        request = channel.requests[0] if channel.requests else None
        on_lane = request is not None and request.error is None and (request.command, request.path) in LANE_ROUTES
        (self.lane if on_lane else self.pool).add_task(channel)

    def shutdown(self, cancel_pending: bool = True, timeout: float = 5) -> bool:
        lane = self.lane.shutdown(cancel_pending, timeout)
        return self.pool.shutdown(cancel_pending, timeout) and lane


def _raise_file_limit(needed: int) -> None:
    """Every connection is a file descriptor: lift the soft limit towards what the cap needs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def make_server(app: Callable, *, host: str, port: int, threads: int, max_body_bytes: int,
                limits: ConnectionLimits | None = None, trusted_proxies: Iterable = ()) -> GuardedServer:
    limits = limits or ConnectionLimits.from_env()
    _raise_file_limit(limits.max_connections + 256)
    adj = Adjustments(
        host=host, port=port, threads=threads, ident="caseflow",
        max_request_body_size=max_body_bytes + 1024,  # Flask answers the exact limit with its own 413
        max_request_header_size=limits.max_header_bytes,
        connection_limit=limits.max_connections,
        channel_timeout=limits.idle_timeout,
        cleanup_interval=max(1, int(min(limits.header_timeout, limits.idle_timeout) / 2)),
        asyncore_use_poll=True,  # select() stops at 1024 descriptors
        # the app reads X-Forwarded-For itself, from CASEFLOW_TRUSTED_PROXIES peers only (server.edge)
        clear_untrusted_proxy_headers=False,
    )
    dispatcher = LanedDispatcher(adj.threads)
    server = GuardedServer(app, map={}, dispatcher=dispatcher, adj=adj, sockinfo=adj.listen[0])
    server.limits = limits
    server.exempt = tuple(trusted_proxies)
    return server
