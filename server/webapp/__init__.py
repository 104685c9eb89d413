"""The caseflow app at /app/: the built web client (clients/web/, built into ``dist/`` here and
committed, ADR 0018) served as static files by caseflow itself, so ``pip install`` needs no node."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, redirect, send_from_directory

DIST = Path(__file__).resolve().parent / "dist"

bp = Blueprint("webapp", __name__)

# Vite names every built asset after a hash of its content: such a file never changes.
IMMUTABLE = "public, max-age=31536000, immutable"


def _send(path: str) -> Response:
    if not (DIST / "index.html").is_file():
        abort(404)
    response = send_from_directory(DIST, path)  # refuses paths outside DIST
    if path.startswith("assets/"):
        response.headers["Cache-Control"] = IMMUTABLE
    else:  # index.html, sw.js, the manifest: the browser revalidates, so a new build is picked up
        response.headers["Cache-Control"] = "no-cache"
    if path == "sw.js":
        response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@bp.get("/app")
def app_without_slash() -> Response:
    return redirect("/app/", code=308)


@bp.get("/app/")
def index() -> Response:
    return _send("index.html")


@bp.get("/app/<path:path>")
def asset(path: str) -> Response:
    return _send(path)
