"""A cutting proxy on loopback: each request is passed, dropped before the server sees it, or
forwarded and its response dropped (or cut half way) after the server has answered, i.e. after
the server committed. Which one is drawn from a seeded RNG, so a failing run replays."""

from __future__ import annotations

import random
import socket
import threading
from collections import Counter

MODES = ("pass", "drop_request", "drop_response", "cut_response")


def _read_request(conn: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        if name.strip().lower() in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    kept.append(b"Connection: close")  # one request per upstream connection: the response ends at EOF
    return b"\r\n".join(kept) + b"\r\n\r\n" + body


class CuttingProxy:
    def __init__(self, upstream_port: int, seed: int = 0, loss: float = 0.0):
        self.upstream = ("127.0.0.1", upstream_port)
        self.rng = random.Random(seed)
        self.loss = loss  # probability that a request is cut one way or another
        self.force: list[str] = []  # modes to use next, in order, before drawing at random
        self.force_push: list[str] = []  # the same, for the next push requests only
        self.counts: Counter[str] = Counter()
        self.push_counts: Counter[str] = Counter()  # what happened to push requests (what a floor can count)
        self._lock = threading.Lock()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._serve, daemon=True, name="cutting-proxy").start()

    def reseed(self, seed: int, loss: float) -> None:
        with self._lock:
            self.rng.seed(seed)
            self.loss = loss

    def _mode(self, push: bool) -> str:
        with self._lock:
            if push and self.force_push:
                mode = self.force_push.pop(0)
            elif self.force:
                mode = self.force.pop(0)
            elif self.loss and self.rng.random() < self.loss:
                mode = self.rng.choice(MODES[1:])
            else:
                mode = "pass"
            self.counts[mode] += 1
            if push:
                self.push_counts[mode] += 1
            return mode

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if request is None:
                return
            mode = self._mode(request.split(b" ", 2)[1].startswith(b"/api/v1/sync/push"))
            if mode == "drop_request":
                conn.shutdown(socket.SHUT_RDWR)  # the server never sees it
                return
            with socket.create_connection(self.upstream, timeout=30) as up:
                up.sendall(request)
                response = b""
                while chunk := up.recv(65536):
                    response += chunk
            # the server has answered in full: whatever it applied is committed
            if mode == "pass":
                conn.sendall(response)
            elif mode == "cut_response":
                conn.sendall(response[: len(response) // 2])
            conn.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop = True
        self.sock.close()
