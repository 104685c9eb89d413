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


# -- a stand-alone run (development): python -m bench.pg --size 1000 --workers 1 4 --batches 50 ------
def _push_once(server_env: dict, data: Path, cluster: BenchCluster | None, info: dict, n_dev: int, batch: int,
               mutations: int, forms, rng) -> dict:
    import threading
    import time
    import uuid

    from bench import sync as bs

    devices = [bs.Device(bs.USERS[i % len(bs.USERS)], f"bench-{i:02d}-{uuid.uuid4().hex[:8]}") for i in range(n_dev)]
    bs.plan(devices, info["pools"], batch, max(1, round(mutations / (batch * n_dev))), forms, rng)
    from tests.support import LiveServer

    srv = LiveServer(data, env={"CASEFLOW_DEMO_PASSWORD": bs.PASSWORD, "CASEFLOW_LOG_LEVEL": "WARNING",
                                **server_env}).start(timeout=180)
    try:
        time.sleep(3)  # workers up, leader elected, first deadline scan done
        for dev in devices:
            bs._login(srv.port, dev)
        start = threading.Barrier(n_dev + 1)
        threads = [threading.Thread(target=bs._device_loop, args=(srv.port, d, start), daemon=True) for d in devices]
        for t in threads:
            t.start()
        before = cpu_snapshot(srv.proc.pid, cluster.postmaster() if cluster else None)
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu = cpu_used(before, cpu_snapshot(srv.proc.pid, cluster.postmaster() if cluster else None))
    finally:
        srv.stop()
    if any(d.error for d in devices):
        errs = [ln for ln in srv.log().splitlines() if '"ERROR"' in ln or "Error" in ln]
        print("\n".join(errs[:3]))
    done = sum(sum(d.statuses.values()) for d in devices)
    statuses: dict[str, int] = {}
    for d in devices:
        for k, v in d.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    lat = sorted(x for d in devices for x in d.latencies)
    return {"rate": done / wall, "done": done, "server_ms": cpu["server"] * 1000 / done,
            "pg_ms": cpu.get("postgres", 0.0) * 1000 / done, "p50": bs._pct(lat, 50) * 1000,
            "p95": bs._pct(lat, 95) * 1000, "statuses": statuses, "errors": [d.error for d in devices if d.error]}


def main() -> None:
    import argparse
    import random
    import tempfile

    from bench import sync as bs
    from forms.registry import FormRegistry

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--devices", type=int, default=16)
    ap.add_argument("--mutations", type=int, default=2400)
    ap.add_argument("--embedded", action="store_true")
    args = ap.parse_args()
    rng = random.Random(1)
    forms = FormRegistry.load_default()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    cluster = BenchCluster().start()
    try:
        info = bs.prefill(root / "pristine", args.size, rng)
        warm = bs._server(root / "pristine")
        warm.stop()
        template = cluster.load_template(root / "pristine" / "store", "pristine")
        print(f"prefill {info['docs']} docs; template copied", flush=True)
        for batch in args.batches:
            muts = {1: args.mutations // 8, 10: args.mutations // 3}.get(batch, args.mutations)
            if args.embedded:
                data = bs._fresh_copy(root / "pristine", root, "run")
                r = _push_once({}, data, None, info, args.devices, batch, muts, forms, rng)
                print(f"embedded  batch {batch:>2}: {r['rate']:7.0f} mut/s server {r['server_ms']:.2f} ms/mut "
                      f"p50 {r['p50']:.1f} p95 {r['p95']:.1f} {r['statuses']} {r['errors'][:1]}", flush=True)
            for w in args.workers:
                url = cluster.fresh(template)
                r = _push_once(serve_env(url, w), server_dir(root, root / "pristine"), cluster, info,
                               args.devices, batch, muts, forms, rng)
                print(f"pg w={w} batch {batch:>2}: {r['rate']:7.0f} mut/s server {r['server_ms']:.2f} + postgres "
                      f"{r['pg_ms']:.2f} ms/mut p50 {r['p50']:.1f} p95 {r['p95']:.1f} {r['statuses']} "
                      f"{r['errors'][:1]}  load {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
