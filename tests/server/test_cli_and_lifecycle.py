"""The caseflow command: demo idempotence, the data-dir lock, admin commands, store check."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from tests.support import DEMO_PASSWORD, ROOT, Client, LiveServer, assert_problem, free_port


def cli(*args, data_dir, env=None, input=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--data", str(data_dir)],
        cwd=ROOT, env={**os.environ, "CASEFLOW_DEMO_PASSWORD": DEMO_PASSWORD, **(env or {})},
        capture_output=True, text=True, timeout=60, input=input,
    )


def test_demo_fixture_is_idempotent_and_users_list(tmp_path):
    data = tmp_path / "data"
    for _ in range(2):
        srv = LiveServer(data).start()
        assert Client(srv.url, "esx.business").user["roles"] == ["business_team"]
        srv.stop()
    out = cli("users", "list", data_dir=data)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 16
    assert sum(1 for line in lines if line.startswith("esx.business\t")) == 1


def test_second_process_on_same_data_dir_is_refused(tmp_path):
    srv = LiveServer(tmp_path / "data").start()
    try:
        port = free_port()
        out = subprocess.run(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--data", str(srv.data_dir)],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )
        assert out.returncode != 0
        assert "another" in out.stderr.lower() or "lock" in out.stderr.lower(), out.stderr
        # the admin commands reach the running server instead (ADR 0020)
        out = cli("users", "list", data_dir=srv.data_dir)
        assert out.returncode == 0 and "esx.business\t" in out.stdout, out.stderr
        assert requests.get(srv.url + "/healthz").status_code == 200
    finally:
        srv.stop()


def test_users_add_disable_and_device_revoke(tmp_path):
    data = tmp_path / "data"
    srv = LiveServer(data).start()
    srv.stop()
    out = cli("users", "add", "wsx.admin", "--partnership", "west-sussex", "--role", "admin",
              data_dir=data, env={"CASEFLOW_NEW_USER_PASSWORD": "a-long-enough-password"})
    assert out.returncode == 0, out.stderr
    bad = cli("users", "add", "x.y", "--partnership", "nowhere", "--role", "wizard", data_dir=data,
              env={"CASEFLOW_NEW_USER_PASSWORD": "short"})
    assert bad.returncode != 0 and "unknown partnership" in bad.stderr and "roles must be" in bad.stderr
    srv = LiveServer(data).start()
    try:
        worker = Client(srv.url, "esx.social-worker")
        wsx_admin = Client(srv.url, "wsx.admin", password="a-long-enough-password")
        # an admin of another partnership cannot even see the device
        assert_problem(wsx_admin.post(f"/api/v1/devices/{worker.device_id}/revoke"), 404)
        assert worker.get("/api/v1/auth/whoami").status_code == 200
    finally:
        srv.stop()
    assert cli("users", "disable", "esx.crg", data_dir=data).returncode == 0
    assert cli("devices", "revoke", worker.device_id, data_dir=data).returncode == 0
    srv = LiveServer(data).start()
    worker.base = srv.url
    try:
        assert_problem(worker.get("/api/v1/auth/whoami"), 403, "device-revoked")
        r = requests.post(srv.url + "/api/v1/auth/login",
                          json={"username": "esx.crg", "password": DEMO_PASSWORD, "device_id": "device-crg-2"})
        assert_problem(r, 401)
    finally:
        srv.stop()
    out = cli("store", "check", data_dir=data)
    assert out.returncode == 0 and "store OK" in out.stdout, out.stdout + out.stderr
