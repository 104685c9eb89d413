"""PostgreSQL for the benchmarks: a throwaway cluster, a prefilled template database, a fresh
database per configuration, ``caseflow serve --store postgresql://… --workers N``, and the CPU
time of the server's processes and of PostgreSQL's.

    cluster = BenchCluster().start()
    template = cluster.load_template(pristine_data_dir / "store")   # store copy, verified
    url = cluster.fresh(template)                                    # CREATE DATABASE … TEMPLATE
    srv = serve(data_dir, url, workers=4)
    before = cpu_snapshot(srv.proc.pid, cluster.postmaster())
    ...
    cpu = cpu_used(before, cpu_snapshot(srv.proc.pid, cluster.postmaster()))  # {"server": s, "postgres": s}
    cluster.stop()

The cluster is tests.pgcluster's (the one the suite uses), started with more shared memory than the
suite's so a 100k-document store is served from memory as a production server would be. CPU is read
from /proc: every live process of a tree plus what its root has reaped (cutime/cstime), so a
backend that exits mid-run is still counted.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import psycopg

from tests.pgcluster import Cluster, Databases

BENCH_SETTINGS = ("-c shared_buffers=256MB -c max_wal_size=2GB -c checkpoint_timeout=30min")


class BenchCluster(Cluster):
    """tests.pgcluster.Cluster with the bench's settings; ``fresh()`` databases cloned from a template."""

    def __init__(self) -> None:
        super().__init__()
        self.dbs = Databases(self.url())

    def start(self) -> BenchCluster:
        super().start(extra=BENCH_SETTINGS)
        return self

    def postmaster(self) -> int:
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            return int(f.readline())

    def load_template(self, store_dir: Path, name: str) -> str:
        """``caseflow store copy`` of the embedded store in ``store_dir`` into a new database ``name``."""
        from store import open_store
        from store.transfer import copy_store

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        url = self.url(name)
        with open_store(store_dir, background_checkpoint=False) as src:
            report = copy_store(src, url)
        if report.problems:
            raise RuntimeError(f"store copy into {name} found problems: {report.problems[:5]}")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            conn.execute("CHECKPOINT")
        return name

    def fresh(self, template: str, name: str = "run") -> str:
        """A new database ``name`` (dropped first if it exists), a file copy of ``template``."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
            conn.execute("CHECKPOINT")  # the copy's own writes are not charged to the run
        return self.url(name)


def server_dir(root: Path, pristine: Path) -> Path:
    """A data directory for a PostgreSQL-backed server: the pristine one's secrets, no store files."""
    dst = root / "run-pg"
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    if (pristine / "secrets").exists():
        shutil.copytree(pristine / "secrets", dst / "secrets")
    return dst


def serve_env(url: str, workers: int) -> dict[str, str]:
    """The environment that makes ``caseflow serve`` use ``url`` with ``workers`` gunicorn processes."""
    return {"CASEFLOW_STORE": url, "CASEFLOW_WORKERS": str(workers)}


# -- CPU of process trees ---------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU s, reaped children's CPU s) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds per live process of the tree under ``root``; the root's entry includes what it reaped."""
    parents: dict[int, int] = {}
    own: dict[int, float] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                parents[int(name)] = st[0]
                own[int(name)] = st[1] + (st[2] if int(name) == root else 0.0)
    out, frontier = {}, [root]
    while frontier:
        pid = frontier.pop()
        if pid in own:
            out[pid] = own[pid]
            frontier.extend(p for p, pp in parents.items() if pp == pid)
    return out


def cpu_snapshot(server_pid: int, postmaster_pid: int | None) -> dict[str, dict[int, float]]:
    snap = {"server": tree_cpu(server_pid)}
    if postmaster_pid:
        snap["postgres"] = tree_cpu(postmaster_pid)
    return snap


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each tree used between two snapshots (a process that exited in between is in its
    reaper's total; one that started in between counts from zero)."""
    return {key: sum(now.values()) - sum(before.get(key, {}).values()) for key, now in after.items()}

