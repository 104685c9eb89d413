"""``caseflow serve --store postgresql://… --workers N``: the app in N gunicorn worker processes.

The app (and with it the store's connection pool) is built in each worker *after* the fork
(gunicorn's default, no ``--preload``): a psycopg pool opened before a fork hands one socket to
several processes. Whatever must happen once (secrets, the demo fixture, the schema migration,
the integrity check) is done by the caller in the master before the workers start. Background
jobs run in one worker at a time (``server.leader``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication


def prepare_metrics_dir(data_dir: Path) -> Path:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for this run (unless the operator set one), set before
    prometheus_client is first imported, so every worker writes its counters there and ``/metrics``
    sums them (see :mod:`server.metrics`). Fresh per run: stale counters of a previous run would be summed."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    data_dir.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="metrics-", dir=data_dir))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


class GunicornServer(BaseApplication):
    def __init__(self, build_app: Callable[[], Any], options: dict[str, Any]):
        self._build_app = build_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._build_app()


def serve_workers(build_app: Callable[[], Any], *, host: str, port: int, workers: int, threads: int,
                  max_body: int) -> None:
    """Serve forever; each worker calls ``build_app()`` once, after it has forked."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "preload_app": False,
        "timeout": 60,
        "graceful_timeout": 20,
        "limit_request_line": 8190,
        "accesslog": None,
        "proc_name": "caseflow",
    }
    del max_body  # the app enforces MAX_CONTENT_LENGTH itself
    GunicornServer(build_app, options).run()
