"""A throwaway PostgreSQL cluster for the tests (and ``python -m tests.pgcluster`` for scripts).

The machine's PostgreSQL server binaries (Debian: /usr/lib/postgresql/N/bin) run in a temporary
directory, on 127.0.0.1 and a free port, with ``trust`` authentication. ``initdb`` refuses to run as
root, so as root the cluster belongs to the ``postgres`` user (``runuser``). Tests connect over TCP.
A missing PostgreSQL is an error naming what to install, never a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg


class PostgresMissing(RuntimeError):
    pass


def bindir() -> str:
    env = os.environ.get("CASEFLOW_PG_BINDIR")
    candidates = [env] if env else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for d in candidates:
        if d and os.path.exists(os.path.join(d, "initdb")):
            return d
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    raise PostgresMissing("PostgreSQL server binaries (initdb, pg_ctl) were not found: install the Debian package "
                          "'postgresql' (bash scripts/system-packages does) or set CASEFLOW_PG_BINDIR")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """``start()`` initialises and starts a cluster; ``url(db)`` connects to it; ``stop()`` removes it."""

    def __init__(self) -> None:
        self.bin = bindir()
        self.dir = tempfile.mkdtemp(prefix="caseflow-pg-")
        self.port = _free_port()
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode:
            log = ""
            try:
                with open(os.path.join(self.dir, "log")) as f:
                    log = f.read()[-2000:]
            except OSError:
                pass
            raise RuntimeError(f"{' '.join(args[:1])} failed ({proc.returncode}): {proc.stderr[-2000:]}\n{log}")

    def start(self, extra: str = "") -> Cluster:
        """Initialise and start; ``extra``: more ``-c name=value`` server options (the bench's)."""
        if self._as:
            shutil.chown(self.dir, "postgres")
        os.chmod(self.dir, 0o700)
        data = os.path.join(self.dir, "data")
        self._run(os.path.join(self.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200 "
                "-c synchronous_commit=on -c fsync=on -c shared_buffers=32MB " + extra)
        self._run(os.path.join(self.bin, "pg_ctl"), "-D", data, "-l", os.path.join(self.dir, "log"), "-w",
                  "-o", opts, "start")
        return self

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        try:
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", os.path.join(self.dir, "data"), "-m", "immediate",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Databases:
    """Fresh, empty databases on a server (``base_url`` names any database a superuser can reach)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._n = 0
        self._tag = f"{os.getpid()}_{int(time.time() * 1000) % 10**8}"

    def create(self) -> str:
        self._n += 1
        name = f"cf_{self._tag}_{self._n}"
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        info = psycopg.conninfo.conninfo_to_dict(self.base_url)
        return f"postgresql://{info.get('user', 'postgres')}@{info['host']}:{info.get('port', 5432)}/{name}"

    def drop(self, url: str) -> None:
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":  # start one and print its URL (scripts); stop with pg_ctl -D DIR/data stop
    c = Cluster().start()
    print(c.url(), c.dir)
