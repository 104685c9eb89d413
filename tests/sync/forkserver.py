"""A fork server for kill tests: import the app and load the demo fixture once, then fork a fresh
serving child per (re)start. Each child is a real server process: it opens the store from disk
(recovering whatever the last one left), serves real HTTP on the listening socket the fork server
holds, and is SIGKILLed by the test. Starting a child costs a fork and a store open, not an import.

Protocol (one line each way): ``spawn [CRASH_SPEC]`` -> child pid; ``wait PID`` -> the signal that
ended it (0: exited); ``quit``. The first line written is the port.

    python -m tests.sync.forkserver DATA_DIR
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import uuid
from pathlib import Path


class LazyStore:
    """The store the app was built with: opened in each child after the fork, never in the parent."""

    def __init__(self):
        self.target = None

    def __getattr__(self, name):
        if self.target is None:
            raise RuntimeError("the store is opened in the serving child")
        return getattr(self.target, name)


def _child(app, lazy: LazyStore, store_dir: Path, listen_fd: int, crash: str | None, ready: int) -> None:
    from werkzeug.serving import make_server

    from store import open_store

    try:  # die with the fork server, never outlive the test (Linux)
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if crash:
        os.environ["CASEFLOW_CRASH_AT"] = crash  # read by the store when it opens
    lazy.target = open_store(store_dir)
    if lazy.target.verify():
        os._exit(70)  # a store that fails its check after a crash fails the test loudly
    server = make_server("127.0.0.1", 0, app, threaded=True, fd=listen_fd)
    os.write(ready, b"r")
    os.close(ready)
    server.serve_forever()


def _warm(app) -> None:
    """Serve one login, push and pull before any fork, so that each child answers its first request
    as fast as its hundredth (Flask, marshmallow and JWT set themselves up on first use)."""
    from tests.support import DEMO_PASSWORD

    c = app.test_client()
    body = c.post("/api/v1/auth/login", json={"username": "esx.business", "password": DEMO_PASSWORD,
                                              "device_id": "forkserver-warmup"}).get_json()
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    from tests.sync.harness import FORM, form_version, referral_data

    create = {"mutation_id": "forkserver-warmup-1", "seq": 1, "kind": "create_case", "case_id": str(uuid.uuid4()),
              "payload": {"case_type": "serious_incident", "referral": {
                  "form_id": FORM, "form_version": form_version(), "data": referral_data()}}}
    c.post("/api/v1/sync/push", json={"device_id": "forkserver-warmup", "mutations": [create]}, headers=auth)
    c.get("/api/v1/sync/pull?limit=500", headers=auth)


def main(data_dir: str) -> None:
    from server.app import create_app
    from server.config import Settings
    from server.demo import load_demo
    from store import open_store
    from tests.support import DEMO_PASSWORD

    logging.disable(logging.CRITICAL)
    data = Path(data_dir)
    settings = Settings(data_dir=data, demo=True, demo_password=DEMO_PASSWORD)
    lazy = LazyStore()
    app = create_app(settings, store=lazy)  # type: ignore[arg-type]
    lazy.target = open_store(data / "store")
    load_demo(app.extensions["caseflow"].accounts, DEMO_PASSWORD)
    _warm(app)
    lazy.target.close()
    lazy.target = None
    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    print(listener.getsockname()[1], flush=True)
    live: set[int] = set()
    try:
        _loop(app, lazy, data, listener, live)
    finally:
        for pid in live:  # the test went away: take the children with us
            os.kill(pid, signal.SIGKILL)


def _loop(app, lazy: LazyStore, data: Path, listener: socket.socket, live: set[int]) -> None:
    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "spawn":
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    os.close(r)
                    _child(app, lazy, data / "store", listener.fileno(), args[0] if args else None, w)
                finally:
                    os._exit(71)
            os.close(w)
            os.read(r, 1)  # ready (or empty: it died on the way, e.g. a crash hook; the test sees it)
            os.close(r)
            live.add(pid)
            print(pid, flush=True)
        elif cmd == "wait":
            _, status = os.waitpid(int(args[0]), 0)
            live.discard(int(args[0]))
            print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status), flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    main(sys.argv[1])
