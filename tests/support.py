"""Test support: a real caseflow server in a subprocess on a loopback port, and a small client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

DEMO_PASSWORD = "demo-password-for-tests"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    data_dir: Path
    port: int = 0
    env: dict = field(default_factory=dict)
    demo: bool = True
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> LiveServer:
        self.port = self.port or free_port()
        # tests log in on a throwaway device id each time: lift the per-user device cap (tested on its own)
        env = {**os.environ, "CASEFLOW_DEMO_PASSWORD": DEMO_PASSWORD, "CASEFLOW_LOG_LEVEL": "INFO",
               "CASEFLOW_MAX_DEVICES_PER_USER": "1000", **self.env}
        args = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port), "--data", str(self.data_dir)]
        if self.demo:
            args.append("--demo")
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if getattr(self, "_log", None):
            self._log.close()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""


class Client:
    """A logged-in user on one device, talking real HTTP."""

    def __init__(self, base_url: str, username: str, password: str = DEMO_PASSWORD, device_id: str | None = None):
        self.base = base_url
        self.username = username
        self.device_id = device_id or f"device-{os.urandom(6).hex()}"
        self.http = requests.Session()
        r = self.http.post(f"{base_url}/api/v1/auth/login",
                           json={"username": username, "password": password, "device_id": self.device_id})
        assert r.status_code == 200, r.text
        body = r.json()
        self.access, self.refresh, self.user = body["access_token"], body["refresh_token"], body["user"]

    def headers(self, token: str | None = None) -> dict:
        return {"Authorization": f"Bearer {token or self.access}"}

    def get(self, path: str, **kw) -> requests.Response:
        return self._send("GET", path, **kw)

    def post(self, path: str, json=None, **kw) -> requests.Response:
        return self._send("POST", path, json=json, **kw)

    def _send(self, method: str, path: str, **kw) -> requests.Response:
        """As a real client does: an access token that expired (15 minutes; a module of a slow,
        loaded run outlives it) is refreshed once with the refresh token and the call repeated."""
        r = self.http.request(method, self.base + path, headers=self.headers(), **kw)
        if r.status_code == 401 and r.headers.get("Content-Type", "").startswith("application/problem+json") \
                and r.json().get("type", "").endswith("/token-expired"):
            self.renew()
            r = self.http.request(method, self.base + path, headers=self.headers(), **kw)
        return r

    def renew(self) -> None:
        r = self.http.post(f"{self.base}/api/v1/auth/refresh", headers=self.headers(self.refresh))
        assert r.status_code == 200, r.text
        body = r.json()
        self.access, self.refresh = body["access_token"], body["refresh_token"]

    def pull_all(self, cursor: str = "") -> tuple[list[dict], str]:
        """Page the sync feed from ``cursor`` to its end: every change, and the cursor to go on from."""
        changes: list[dict] = []
        while True:
            r = self.get("/api/v1/sync/pull", params={"cursor": cursor, "limit": 500})
            assert r.status_code == 200, r.text
            page = r.json()
            changes += page["changes"]
            cursor = page["cursor"]
            if not page["has_more"]:
                return changes, cursor


def assert_problem(resp: requests.Response, status: int, slug: str | None = None) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.headers["Content-Type"]
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("https://")
    if slug:
        assert body["type"].endswith("/" + slug), body
    return body


class InProcessApp:
    """The real app in this process (so a test can pin and step its clock), served over real
    loopback HTTP by werkzeug in a thread, on a demo-loaded store of its own."""

    def __init__(self, data_dir: Path, today=None, **settings):
        import datetime as dt
        import logging
        import threading

        from werkzeug.serving import make_server

        from server.app import create_app
        from server.config import Settings
        from server.demo import load_demo
        from sync.clock import LONDON, Clock

        self._dt, self._london = dt, LONDON
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.clock = Clock(dt.datetime.combine(today, dt.time(10), tzinfo=LONDON) if today else None)
        self.app = create_app(Settings(data_dir=data_dir, demo=True, demo_password=DEMO_PASSWORD, **settings),
                              clock=self.clock)
        self.services = self.app.extensions["caseflow"]
        self.store = self.services.store
        load_demo(self.services.accounts, DEMO_PASSWORD)
        self.http = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.http.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.clients: dict[str, Client] = {}

    def on(self, day) -> None:
        """Pin the clock to 10:00 in England on ``day`` (a date or ``YYYY-MM-DD``)."""
        day = self._dt.date.fromisoformat(day) if isinstance(day, str) else day
        self.clock.set(self._dt.datetime.combine(day, self._dt.time(10), tzinfo=self._london))

    def client(self, username: str) -> Client:
        """One logged-in device per user, shared by the test."""
        if username not in self.clients:
            self.clients[username] = Client(self.url, username)
        return self.clients[username]

    def close(self) -> None:
        self.http.shutdown()
        self.store.close()
