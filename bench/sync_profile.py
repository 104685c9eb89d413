"""``bench.sync --profile``: cProfile of the push and pull paths, in-process.

The app is built by ``create_app`` over a prefilled store and driven through Flask's test client
(routing, marshmallow, auth, the write path, the store with its fdatasync; everything but the
socket and waitress), with the server's JSON logging configured at INFO into a temp file, as
``caseflow serve`` does. Prints the top functions by own time and by cumulative time.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import random
import time
from pathlib import Path
from typing import Any

from bench.sync import USERS, Device, plan
from bench.sync_prefill import PASSWORD, cached_prefill


def _top(prof: cProfile.Profile, title: str, n: int = 22) -> None:
    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key).print_stats(n)
        text = out.getvalue()
        start = text.find("   ncalls")
        print(f"\n== {title}: top {n} by {key}\n{text[start:]}")


def profile(root: Path, size: int, forms: Any, rng: random.Random, args: Any) -> None:
    from server import logs
    from server.app import create_app
    from server.config import Settings

    data = root / "profile"
    info = cached_prefill(data, size, args.seed)
    print(f"prefill {size}: {info['docs']:,} documents")
    log_file = open(root / "server.log", "w")  # noqa: SIM115 - closed below
    logs.configure("INFO", stream=log_file)
    app = create_app(Settings(data_dir=data, demo_password=PASSWORD))
    client = app.test_client()
    devices = [Device(USERS[i % 4], f"profile-{i}") for i in range(4)]
    plan(devices, info["pools"], 50, 6, forms, rng)
    for dev in devices:
        r = client.post("/api/v1/auth/login", json={"username": dev.username, "password": PASSWORD,
                                                     "device_id": dev.device_id})
        dev.token = r.get_json()["access_token"]

    prof = cProfile.Profile()
    n = 0
    t0 = time.perf_counter()
    for k in range(6):
        for dev in devices:
            prof.enable()
            r = client.post("/api/v1/sync/push", data=dev.bodies[k], content_type="application/json",
                            headers={"Authorization": f"Bearer {dev.token}"})
            prof.disable()
            statuses = {x["status"] for x in r.get_json()["results"]}
            assert r.status_code == 200 and statuses == {"applied"}, (r.status_code, statuses)
            n += dev.sizes[k]
    print(f"push: {n} mutations in {time.perf_counter() - t0:.2f} s (under cProfile)")
    # durable acknowledgement: the journal's fdatasync ran inside every push request, before the answer
    syncs = sum(v[1] for k, v in pstats.Stats(prof).stats.items() if k[2] in ("<built-in method posix.fdatasync>",
                                                                                "<built-in method posix.fsync>"))
    print(f"fdatasync/fsync calls inside the 24 push requests: {syncs}")
    _top(prof, "push, batches of 50, 4 devices")
    if os.environ.get("PROFILE_CALLERS"):
        st = pstats.Stats(prof).strip_dirs()
        st.print_callers(r"__init__.py:(299|183)\(|prevalidate.py:43|isinstance")

    for username in ("esx.business", "esx.police-dsl"):
        r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD,
                                                     "device_id": f"profile-pull-{username}"})
        headers = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
        prof = cProfile.Profile()
        cursor = client.get("/api/v1/sync/pull?limit=100", headers=headers).get_json()["cursor"]
        pages = 0
        t0 = time.perf_counter()
        while pages < 100:
            prof.enable()
            body = client.get(f"/api/v1/sync/pull?limit=100&cursor={cursor}", headers=headers).get_json()
            prof.disable()
            pages += 1
            cursor = body["cursor"]
            if not body["has_more"]:
                break
        print(f"\npull: {pages} pages of 100 in {time.perf_counter() - t0:.2f} s (under cProfile)")
        _top(prof, f"pull, pages of 100, {username}")
    app.extensions["caseflow"].store.close()
    log_file.close()
