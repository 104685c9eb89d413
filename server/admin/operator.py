"""The operator channel: how the ``caseflow`` command administers a data directory a server holds.

The embedded store admits one process. A running server records where it listens in
``DATA/run/server.json``; the command, which can read ``DATA/secrets/operator.secret`` (mode 0600,
the same trust as reading the store itself), calls that server's admin API with the secret in
``X-Caseflow-Operator``. The server accepts the header only from a loopback address and turns it
into the ``operator`` system actor, an admin of the partnership the request names, so the change
takes the same write path, checks and audit as an admin's (ADR 0020).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from pathlib import Path
from typing import Any

from flask import current_app, g, request

from server.admin.handlers import OPERATOR_ID
from server.auth.tokens import load_actor
from server.problems import Problem
from server.secrets_store import load_or_create_secret
from sync.actor import Actor

HEADER, PARTNERSHIP_HEADER = "X-Caseflow-Operator", "X-Caseflow-Partnership"
SECRET_NAME = "operator.secret"  # noqa: S105 - a file name, not a secret


def operator_secret(data_dir: Path) -> str:
    return load_or_create_secret(data_dir, SECRET_NAME)


def run_file(data_dir: Path) -> Path:
    return Path(data_dir) / "run" / "server.json"


def record_address(data_dir: Path, host: str, port: int) -> Path:
    """Written by ``caseflow serve`` once it holds the store; removed when it stops."""
    path = run_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    wildcard = {"0.0.0.0", "", "localhost"}  # noqa: S104 - where to connect, not to bind
    connect = "127.0.0.1" if host in wildcard else ("::1" if host == "::" else host)
    url = f"http://[{connect}]:{port}" if ":" in connect else f"http://{connect}:{port}"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
    os.replace(tmp, path)
    return path


def clear_address(data_dir: Path) -> None:
    path = run_file(data_dir)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_server(data_dir: Path) -> str | None:
    """The URL of the server recorded for this data directory, if its process is alive."""
    try:
        info: dict[str, Any] = json.loads(run_file(data_dir).read_text(encoding="utf-8"))
        os.kill(int(info["pid"]), 0)
        return str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _loopback(addr: str | None) -> bool:
    try:
        return ipaddress.ip_address(addr or "").is_loopback
    except ValueError:
        return False


def is_operator() -> bool:
    return HEADER in request.headers


def operator_actor(partnership: str | None = None) -> Actor:
    """The system actor behind a valid operator header (403 for anything else)."""
    presented = request.headers.get(HEADER, "")
    secret = current_app.extensions["caseflow"].extra.get("operator_secret", "")
    if not secret or not _loopback(request.remote_addr) or not hmac.compare_digest(
            presented.encode(), secret.encode()):
        raise Problem(403, "not-operator", "The operator header is accepted only from this machine, with the "
                                           "data directory's operator secret.")
    partnership = partnership or request.headers.get(PARTNERSHIP_HEADER) or ""
    actor = Actor(user_id=OPERATOR_ID, username=OPERATOR_ID, partnership=partnership, roles=frozenset({"admin"}))
    g.actor = actor
    return actor


def admin_actor(partnership: str | None = None) -> Actor:
    """The caller of an admin endpoint: the operator, or a logged-in admin (of their own partnership)."""
    if is_operator():
        return operator_actor(partnership)
    actor = load_actor()
    if not actor.has_role("admin"):
        raise Problem(403, "forbidden-role", "This needs the admin role.")
    return actor


def confine(actor: Actor, partnership: str) -> Actor:
    """The actor acting on a target of ``partnership``: an admin only within their own (another
    partnership's target is not found); the operator becomes an admin of the target's."""
    if actor.user_id == OPERATOR_ID and is_operator():
        return Actor(user_id=OPERATOR_ID, username=OPERATOR_ID, partnership=partnership, roles=actor.roles)
    if partnership != actor.partnership:
        raise Problem(404, "not-found", "There is nothing with this id in your partnership.")
    return actor
