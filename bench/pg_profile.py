"""``python -m bench.pg_profile``: the PostgreSQL write path in-process, cProfiled, with the
statements (round trips) each push of 50 sends counted.

The app is built by ``create_app`` over a prefilled store copied into a throwaway cluster
(bench.pg) and driven through Flask's test client, as bench.sync_profile does for the embedded
store. Prints CPU per mutation of this process and of PostgreSQL, statements per push, and the
top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import random
import shutil
import tempfile
import time
from pathlib import Path

import psycopg

from bench.pg import BenchCluster, cpu_snapshot, cpu_used
from bench.sync import USERS, Device, plan
from bench.sync_prefill import PASSWORD, cached_prefill
from bench.sync_profile import _top


class _Counter:
    """Counts statements sent by psycopg (execute, executemany, pipeline syncs)."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}
        self._orig = {}

    def install(self) -> None:
        for cls, name in ((psycopg.Cursor, "execute"), (psycopg.Cursor, "executemany"),
                          (psycopg.Connection, "execute")):
            orig = getattr(cls, name)
            self._orig[(cls, name)] = orig

            def wrapped(*a, _orig=orig, _key=f"{cls.__name__}.{name}", **k):
                self.n[_key] = self.n.get(_key, 0) + 1
                return _orig(*a, **k)

            setattr(cls, name, wrapped)

    def uninstall(self) -> None:
        for (cls, name), orig in self._orig.items():
            setattr(cls, name, orig)


def main() -> None:
    import os

    from forms.registry import FormRegistry
    from server import logs
    from server.app import create_app
    from server.config import Settings

    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--pushes", type=int, default=6)
    ap.add_argument("--no-profile", action="store_true")
    args = ap.parse_args()
    rng = random.Random(1)
    forms = FormRegistry.load_default()
    root = Path(tempfile.mkdtemp(prefix="bench-pgprof-"))
    cluster = BenchCluster().start()
    try:
        info = cached_prefill(root / "pristine", args.size, 1)
        template = cluster.load_template(root / "pristine" / "store", "pristine")
        url = cluster.fresh(template)
        data = root / "srv"
        data.mkdir()
        log_file = open(root / "server.log", "w")  # noqa: SIM115 - closed below
        logs.configure("INFO", stream=log_file)
        app = create_app(Settings(data_dir=data, store_url=url, demo_password=PASSWORD))
        client = app.test_client()
        devices = [Device(USERS[i % 4], f"profile-{i}") for i in range(4)]
        plan(devices, info["pools"], args.batch, args.pushes, forms, rng)
        for dev in devices:
            r = client.post("/api/v1/auth/login", json={"username": dev.username, "password": PASSWORD,
                                                         "device_id": dev.device_id})
            dev.token = r.get_json()["access_token"]
        prof, counter = cProfile.Profile(), _Counter()
        counter.install()
        before = cpu_snapshot(os.getpid(), cluster.postmaster())
        n, t0 = 0, time.perf_counter()
        for k in range(args.pushes):
            for dev in devices:
                if not args.no_profile:
                    prof.enable()
                r = client.post("/api/v1/sync/push", data=dev.bodies[k], content_type="application/json",
                                headers={"Authorization": f"Bearer {dev.token}"})
                prof.disable()
                statuses = {x["status"] for x in r.get_json()["results"]}
                assert r.status_code == 200 and statuses == {"applied"}, (r.status_code, statuses)
                n += dev.sizes[k]
        wall = time.perf_counter() - t0
        cpu = cpu_used(before, cpu_snapshot(os.getpid(), cluster.postmaster()))
        counter.uninstall()
        pushes = args.pushes * len(devices)
        print(f"push: {n} mutations in {wall:.2f} s; CPU per mutation: this process {cpu['server'] * 1000 / n:.2f} ms"
              f"{' (under cProfile)' if not args.no_profile else ''}, postgres {cpu['postgres'] * 1000 / n:.2f} ms")
        print(f"statements per push of {args.batch}: "
              + ", ".join(f"{k} {v / pushes:.1f}" for k, v in sorted(counter.n.items())))
        if not args.no_profile:
            _top(prof, f"push on PostgreSQL, batches of {args.batch}", 30)
        app.extensions["caseflow"].store.close()
        log_file.close()
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
