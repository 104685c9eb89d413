"""The push lane (ADR 0039): sync pushes are served by one thread of their own, in arrival order;
every other request keeps waitress's pool, so neither holds the other back."""

from __future__ import annotations

import http.client
import threading
import time
from dataclasses import dataclass, field

from server.httpserver import LanedDispatcher, make_server


@dataclass
class _Request:
    command: str
    path: str
    error: object = None


@dataclass
class _Channel:
    requests: list = field(default_factory=list)
    cancelled: bool = False

    def cancel(self) -> None:  # what waitress's shutdown calls on a task still queued
        self.cancelled = True


def _idle(dispatcher: LanedDispatcher) -> None:
    """Stop every thread, so that added tasks stay in the queue they were routed to."""
    for d in (dispatcher.lane, dispatcher.pool):
        d.set_thread_count(0)
    deadline = time.monotonic() + 10
    while dispatcher.lane.threads or dispatcher.pool.threads:
        assert time.monotonic() < deadline, "the dispatcher's threads did not stop"
        time.sleep(0.01)


def test_only_a_sync_push_is_routed_to_the_lane():
    dispatcher = LanedDispatcher(2)
    _idle(dispatcher)
    routed = {
        ("POST", "/api/v1/sync/push", None): "lane",
        ("GET", "/api/v1/sync/pull", None): "pool",
        ("POST", "/api/v1/auth/login", None): "pool",
        ("GET", "/api/v1/sync/push", None): "pool",  # answered 405 by the app, not a push
        ("POST", "/api/v1/sync/push/", None): "pool",
        ("POST", "/api/v1/sync/push", "a malformed request"): "pool",  # waitress answers it itself
    }
    channels = []
    for (command, path, error), where in routed.items():
        channel = _Channel([_Request(command, path, error)])
        channels.append(channel)
        dispatcher.add_task(channel)
        on_lane = any(c is channel for c in dispatcher.lane.queue)
        in_pool = any(c is channel for c in dispatcher.pool.queue)
        assert (on_lane, in_pool) == (where == "lane", where == "pool"), (command, path, error)
    # shutting down cancels what is queued on either
    assert dispatcher.shutdown(cancel_pending=True, timeout=1)
    assert all(c.cancelled for c in channels)


def test_pushes_take_turns_on_the_lane_while_other_requests_go_on():
    """Over real HTTP: while a push is being served (held on an event), a second push waits for it,
    and other requests are answered meanwhile; the pushes ran on the lane's thread, in order."""
    release = threading.Event()
    served: list[tuple[str, str]] = []

    def app(environ, start_response):
        path = environ["PATH_INFO"]
        served.append((path, threading.current_thread().name))
        if path == "/api/v1/sync/push" and environ.get("HTTP_X_N") == "1":
            assert release.wait(30), "the test never released the first push"
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = make_server(app, host="127.0.0.1", port=0, threads=4, max_body_bytes=1024)
    threading.Thread(target=server.run, daemon=True).start()
    answers: dict[str, int] = {}

    def request(name: str, method: str, path: str, n: str = "") -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=30)
        conn.request(method, path, body=b"{}" if method == "POST" else None, headers={"X-N": n})
        answers[name] = conn.getresponse().status
        conn.close()

    try:
        first = threading.Thread(target=request, args=("push 1", "POST", "/api/v1/sync/push", "1"))
        first.start()
        deadline = time.monotonic() + 10
        while ("/api/v1/sync/push", "push-lane-0") not in served:  # the first push holds the lane
            assert time.monotonic() < deadline, f"the first push was not served on the lane: {served}"
            time.sleep(0.01)
        second = threading.Thread(target=request, args=("push 2", "POST", "/api/v1/sync/push", "2"))
        second.start()
        for i in range(3):  # other requests are answered while the lane is held
            request(f"pull {i}", "GET", "/api/v1/sync/pull")
        assert [answers.get(f"pull {i}") for i in range(3)] == [200, 200, 200]
        assert "push 2" not in answers and "push 1" not in answers  # the second push waits its turn
        release.set()
        first.join(30)
        second.join(30)
        assert answers["push 1"] == answers["push 2"] == 200
        pushes = [name for path, name in served if path == "/api/v1/sync/push"]
        pulls = [name for path, name in served if path == "/api/v1/sync/pull"]
        assert pushes == ["push-lane-0", "push-lane-0"]
        assert pulls and all(name.startswith("waitress-") for name in pulls)
    finally:
        release.set()
        server.close()
