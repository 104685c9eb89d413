"""The built app in server/webapp/dist is what `npm ci && npm run build` makes from clients/web
(ADR 0018): the committed files are rebuilt from source here and compared byte for byte.
npm is required: without it this test fails (it never skips), since a stale build would ship."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

WEB = ROOT / "clients" / "web"
DIST = ROOT / "server" / "webapp" / "dist"


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: the committed app build cannot be checked against its source. Install Node.js "
                    "20.19+ with npm (no script of this repository installs them), then run `npm ci` in clients/web.")
    return npm


def _installed_matches_lock() -> bool:
    """npm ci writes node_modules/.package-lock.json; the same lock means the same tree."""
    installed = WEB / "node_modules" / ".package-lock.json"
    return installed.exists() and installed.stat().st_mtime >= (WEB / "package-lock.json").stat().st_mtime


def test_the_committed_build_is_what_the_source_builds(tmp_path):
    npm = _npm()
    if not _installed_matches_lock():  # scripts/test runs `npm ci` first; a developer's tree may not have
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
    out = tmp_path / "dist"
    built = subprocess.run([npm, "run", "build", "--", "--outDir", str(out), "--emptyOutDir"], cwd=WEB,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    committed, rebuilt = _files(DIST), _files(out)
    assert sorted(rebuilt) == sorted(committed), (
        "server/webapp/dist is not the build of clients/web: run `npm run build` there and commit "
        f"server/webapp/dist (only rebuilt: {sorted(set(rebuilt) - set(committed))}, "
        f"only committed: {sorted(set(committed) - set(rebuilt))})")
    differ = [name for name in committed if not filecmp.cmp(committed[name], rebuilt[name], shallow=False)]
    assert not differ, f"these built files differ from a rebuild of clients/web: {differ}"


def test_the_app_is_served_at_app_with_its_worker_scope_and_caching(server):
    import requests

    index = requests.get(server.url + "/app/", timeout=10)
    assert index.status_code == 200 and '<div id="root">' in index.text
    assert "<script>" not in index.text  # no inline script: the app runs under script-src 'self'
    assert requests.get(server.url + "/app", timeout=10, allow_redirects=False).headers["Location"].endswith("/app/")
    sw = requests.get(server.url + "/app/sw.js", timeout=10)
    assert sw.status_code == 200 and sw.headers["Service-Worker-Allowed"] == "/app/"
    assert sw.headers["Cache-Control"] == "no-cache"
    asset = next(p for p in _files(DIST) if p.startswith("assets/") and p.endswith(".js"))
    assert requests.get(f"{server.url}/app/{asset}", timeout=10).headers["Cache-Control"].endswith("immutable")
    manifest = requests.get(server.url + "/app/manifest.webmanifest", timeout=10).json()
    assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
    missing = requests.get(server.url + "/app/nothing-here.js", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("application/problem+json")
    assert requests.get(server.url + "/app/../server/app.py", timeout=10).status_code == 404
