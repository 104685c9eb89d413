"""How the ``caseflow`` command reaches the admin API of a data directory (ADR 0020).

When a server runs on the directory (``DATA/run/server.json`` names a live process), the command
calls that server over loopback HTTP with the operator secret. Otherwise it builds the same app in
its own process and calls it through Flask's test client, holding the store for the duration. Either
way the request is the same admin API call: the same checks, write path and audit.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from server.admin.operator import HEADER, PARTNERSHIP_HEADER, operator_secret, running_server


class AdminUnavailable(Exception):
    """Neither a running server nor the store could be reached."""


class AdminClient:
    def __init__(self, data_dir: Path, settings: Any = None):
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.url = running_server(self.data_dir)
        self._app = None
        if self.url is None:
            self._open_local()
        else:  # the running server created it at its start
            self.secret = operator_secret(self.data_dir)

    @property
    def where(self) -> str:
        return f"the running server at {self.url}" if self.url else "the data directory (no server running)"

    def _open_local(self) -> None:
        from server.app import create_app
        from server.config import Settings
        from store import StoreError

        settings = self.settings or Settings.from_env(data_dir=self.data_dir)
        try:
            self._app = create_app(settings)
        except StoreError as exc:
            raise AdminUnavailable(str(exc)) from exc
        self.secret = self._app.extensions["caseflow"].extra["operator_secret"]

    def close(self) -> None:
        if self._app is not None:
            self._app.extensions["caseflow"].store.close()
            self._app = None

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, path: str, body: dict | None = None,
             partnership: str | None = None) -> tuple[int, Any]:
        """(status, decoded JSON body) of one admin API call as the operator."""
        headers = {HEADER: self.secret, "Accept": "application/json"}
        if partnership:
            headers[PARTNERSHIP_HEADER] = partnership
        if self._app is not None:
            with self._app.test_client() as http:
                resp = http.open(path, method=method, json=body, headers=headers)
                return resp.status_code, resp.get_json(silent=True)
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback URL we recorded
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw or b"null")
            except ValueError:
                return exc.code, {"detail": raw.decode(errors="replace")[:200]}
        except OSError as exc:
            raise AdminUnavailable(f"cannot reach the server recorded for this data directory ({exc})") from exc
