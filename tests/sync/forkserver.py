"""A fork server for kill tests: import the app and load the demo fixture once, then fork a fresh
serving child per (re)start. Each child is a real server process: it opens the store from disk
(recovering whatever the last one left), serves real HTTP on the listening socket the fork server
holds, and is SIGKILLed by the test. Starting a child costs a fork and a store open, not an import.

Protocol (one line each way): ``spawn MODE CRASH_SPEC|- CHECK_FILE|- verify|-`` -> the child's pid once it
serves, or ``died STATUS MESSAGE`` when it ended before serving (its traceback, or what failed);
``wait PID`` -> the signal that ended it (a negative number: its exit code); ``quit``. The first line
written is the port.

Kill points by construction: a child writes ``PID batch`` to the event pipe (EVENTS_FD) when it starts
on a push batch (MODE ``batch``), or ``PID answer`` when a push batch has committed and its answer is
about to go out (MODE ``answer``: the answer then waits until the test kills the child). MODE ``-``
sends nothing. CHECK_FILE (JSON ``{"device:seq": "applied", ...}``) lists answers the devices got
before the last kill: the child fails to start (exit 72, naming the first one) unless each is in the
store with that outcome, so a failure names the kill that lost it. ``verify`` also runs the store's
full ``verify()`` before serving (opening already checks CRCs and the audit links).

    python -m tests.sync.forkserver DATA_DIR EVENTS_FD
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import time
import traceback
import uuid
from pathlib import Path

CHECKPOINT_RECORDS = 25
#: Set in each child before it serves: what it reports on the event pipe (see the protocol above).
MODE: dict = {"mode": None, "fd": None}


class LazyStore:
    """The store the app was built with: opened in each child after the fork, never in the parent."""

    def __init__(self):
        self.target = None

    def __getattr__(self, name):
        if self.target is None:
            raise RuntimeError("the store is opened in the serving child")
        return getattr(self.target, name)


def _install_kill_points(app) -> None:
    """Registered before the first request (Flask allows no later hooks); inert in the fork server."""
    from flask import request

    def event(kind: str) -> None:
        os.write(MODE["fd"], f"{os.getpid()} {kind}\n".encode())

    @app.before_request
    def _batch():
        if MODE["mode"] == "batch" and request.path == "/api/v1/sync/push":
            event("batch")

    @app.after_request
    def _answer(response):
        if MODE["mode"] == "answer" and request.path == "/api/v1/sync/push" and response.status_code == 200:
            event("answer")
            time.sleep(60)  # committed, not answered: the test kills us here
        return response


def _check_acked(store, check_file: str) -> str | None:
    from tests.sync.harness import check_answered

    with open(check_file) as f:
        return check_answered(store, json.load(f))


def _child(app, lazy: LazyStore, store_dir: Path, listen_fd: int, args: list[str], ready: int) -> None:
    from werkzeug.serving import make_server

    from store import open_store

    mode, crash, check_file, verify = (None if a == "-" else a for a in (args + ["-"] * 4)[:4])

    try:  # die with the fork server, never outlive the test (Linux)
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if crash:
        os.environ["CASEFLOW_CRASH_AT"] = crash  # read by the store when it opens
    MODE["mode"] = mode
    # frequent checkpoints: a restart replays a short journal (cheap kills), and kills land in checkpoints too
    lazy.target = open_store(store_dir, checkpoint_records=CHECKPOINT_RECORDS)
    problems = lazy.target.verify() if verify else []
    if problems:  # a store that fails its check after a crash fails the test loudly
        os.write(ready, ("store.verify() after the kill: " + "; ".join(problems)).encode()[:60000])
        os._exit(70)
    lost = _check_acked(lazy.target, check_file) if check_file else None
    if lost:
        os.write(ready, lost.encode())
        os._exit(72)
    server = make_server("127.0.0.1", 0, app, threaded=True, fd=listen_fd)
    os.write(ready, b"\0")
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


def main(data_dir: str, events_fd: int) -> None:
    from server.app import create_app
    from server.config import Settings
    from server.demo import load_demo
    from store import open_store
    from tests.support import DEMO_PASSWORD

    logging.disable(logging.CRITICAL)
    data = Path(data_dir)
    settings = Settings(data_dir=data, demo=True, demo_password=DEMO_PASSWORD)
    lazy = LazyStore()
    lazy.target = open_store(data / "store")  # create_app may read the store; the children reopen it
    app = create_app(settings, store=lazy)  # type: ignore[arg-type]
    MODE["fd"] = events_fd
    _install_kill_points(app)
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
                    _child(app, lazy, data / "store", listener.fileno(), args, w)
                except BaseException:  # noqa: BLE001 - the test shows it
                    os.write(w, traceback.format_exc().encode()[-60000:])
                finally:
                    os._exit(71)
            os.close(w)
            said = b""
            while chunk := os.read(r, 65536):
                said += chunk
                if said == b"\0":
                    break
            os.close(r)
            if said == b"\0":
                live.add(pid)
                print(pid, flush=True)
            else:  # it died before serving: reap it and say why, on one line
                _, status = os.waitpid(pid, 0)
                code = os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)
                print(f"died {code} {json.dumps(said.decode(errors='replace'))}", flush=True)
        elif cmd == "wait":
            _, status = os.waitpid(int(args[0]), 0)
            live.discard(int(args[0]))
            print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status), flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    main(sys.argv[1], int(sys.argv[2]))
