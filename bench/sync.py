"""Benchmark: sync push of drafts (durable acknowledgement) over real loopback HTTP.

    .venv/bin/python -m bench.sync [--quick] [--sizes 1000 100000] [--devices 1 4] [--batches 1 10 50]
                                   [--ckpt-mutations 40000]
                                   [--stores embedded postgresql] [--workers 1 2 4]
                                   [--mutations N] [--pull] [--profile]

What a fleet does most: agency leads and practitioners saving drafts of their rapid-review agency
return (``rapid_review_agency_return`` v2, ~1.2 KB: contact, child, summary, a chronology of two
contacts, analysis) on existing cases, each device on a handful of cases, with the ``base_version``
a client sends.

1. **Prefill** (per size, cached: :mod:`bench.sync_prefill`): the demo fixture and cloned cases (a
   third in ``rapid_review``); one first start of the server on it, as if it had been running.
2. **Push**: for each (devices, batch), sizes interleaved, a fresh copy of the prefilled directory
   and a real ``caseflow serve --demo`` subprocess (:func:`launch_server`). Each device is an agency
   user logged in on its own device id, in its own client thread with a keep-alive connection,
   pushing back to back. Every push is answered only after its unit of work is fdatasync'd; every
   result is checked (``applied``).
3. Printed per configuration: **server CPU per applied mutation** (user+system time of the server
   process from ``/proc/<pid>/stat``, read before the first and after the last push: robust to other
   load on the machine, unlike the wall figures), mutations/s, p50/p95/p99 and max push latency, the
   **longest pause** (the longest interval in which the server answered no push at all), the
   checkpoints the store ran meanwhile (:mod:`bench.sync_checkpoints`: begun, done, how long, and the
   longest pause while one ran), the 1-minute load average, and the **yardstick**: raw append
   of a ~1 KB record + fdatasync in the same directory, sampled just before. At the largest size
   (>= 100k) extra rows at batch 50 push ``--ckpt-mutations`` (default 40,000) so that checkpoints run
   (one at 100k takes several seconds: it rewrites nearly every shard) and their pauses are measured.
4. ``--stores embedded postgresql --workers 1 2 4``: the same configurations served from PostgreSQL
   too (:mod:`bench.pg`): a throwaway cluster, the warmed prefill copied into a template database
   (``caseflow store copy``), a fresh database per configuration (``CREATE DATABASE … TEMPLATE``),
   ``caseflow serve --store postgresql://… --workers N`` (gunicorn). CPU per mutation then sums the
   server's worker processes, and the PostgreSQL server processes' CPU is printed apart.
5. ``--pull``: the pull benchmark (:mod:`bench.sync_pull`); ``--profile``: cProfile in-process
   (:mod:`bench.sync_profile`). Never asserts on a timing.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.store import Yardstick
from bench.sync_checkpoints import CheckpointWatch, checkpoint_no, during_run
from bench.sync_prefill import PASSWORD, cached_prefill
from bench.sync_report import report, row_line

# device i is a login of USERS[i % len(USERS)] on its own device id: the agency users of the demo
USERS = ("esx.school-dsl", "esx.health-dsl", "esx.social-worker", "esx.health-visitor")
AGENCY = {"esx.school-dsl": "esx-schools", "esx.health-dsl": "uh-sussex",
          "esx.social-worker": "esx-childrens-services", "esx.health-visitor": "uh-sussex"}
FORM = "rapid_review_agency_return"
CASES_PER_DEVICE = 8


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def draft(forms: Any) -> dict[str, Any]:
    """A ~1.2 KB draft of the agency return: the form's own valid example with its chronology of
    two contacts, without the family members section (filled in later in real returns)."""
    d = copy.deepcopy(forms.get(FORM).examples["valid"][0])
    d.pop("family_members", None)
    d.pop("domestic_abuse_details", None)
    d["domestic_abuse_known"] = "not_known"
    return d


# -- the push workload ----------------------------------------------------------------------------
@dataclass
class Device:
    username: str
    device_id: str
    token: str = ""
    bodies: list[bytes] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    answered: list[float] = field(default_factory=list)  # perf_counter at each answer
    statuses: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def plan(devices: list[Device], pools: dict[str, list[str]], batch: int, pushes: int,
         forms: Any, rng: random.Random) -> None:
    """Pre-encode every device's push bodies: drafts of its agency's return on its own handful of
    rapid-review cases (disjoint between devices), each with the base_version a client would send."""
    template = draft(forms)
    version = forms.get(FORM).version
    pool = pools["rapid_review"]
    for i, dev in enumerate(devices):
        cases = pool[i::len(devices)][:CASES_PER_DEVICE]
        seq = 0
        base: dict[str, int] = {}
        for _ in range(pushes):
            mutations = []
            for _ in range(batch):
                seq += 1
                case_id = rng.choice(cases)
                d = copy.deepcopy(template)
                d["agency_id"] = AGENCY[dev.username]
                d["involvement_summary"] = f"Draft {seq}: " + d["involvement_summary"]
                mutations.append({"mutation_id": str(uuid.uuid4()), "seq": seq, "client_time": "2026-11-23T10:00:00Z",
                                  "kind": "save_submission", "case_id": case_id, "base_version": base.get(case_id),
                                  "payload": {"form_id": FORM, "form_version": version, "data": d,
                                              "status": "draft"}})
                base[case_id] = base.get(case_id, 0) + 1
            dev.bodies.append(json.dumps({"device_id": dev.device_id, "mutations": mutations}).encode())
            dev.sizes.append(len(mutations))


def _login(port: int, dev: Device) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"username": dev.username, "password": PASSWORD, "device_id": dev.device_id})
    conn.request("POST", "/api/v1/auth/login", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"login of {dev.username} failed: {resp.status} {raw[:200]!r}")
    dev.token = json.loads(raw)["access_token"]


def _device_loop(port: int, dev: Device, start: threading.Barrier) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {dev.token}"}
    start.wait()
    try:
        for body in dev.bodies:
            t = time.perf_counter()
            conn.request("POST", "/api/v1/sync/push", body, headers)
            resp = conn.getresponse()
            raw = resp.read()
            done = time.perf_counter()
            dev.latencies.append(done - t)
            dev.answered.append(done)
            if resp.status != 200:
                raise RuntimeError(f"push answered {resp.status}: {raw[:300]!r}")
            for r in json.loads(raw)["results"]:
                dev.statuses[r["status"]] = dev.statuses.get(r["status"], 0) + 1
    except Exception as exc:  # reported in the table, never hidden
        dev.error = repr(exc)
    finally:
        conn.close()


# -- the server -----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch_server(data: Path, args: argparse.Namespace, store_env: dict[str, str] | None = None):
    """``caseflow serve --demo`` over ``data`` on a free port; returns a handle with ``.port``,
    ``.proc.pid`` and ``.stop()``. The one place that decides how the server runs. ``store_env``:
    the PostgreSQL store and its worker count (:func:`bench.pg.serve_env`)."""
    from tests.support import LiveServer

    env = {"CASEFLOW_DEMO_PASSWORD": PASSWORD, "CASEFLOW_LOG_LEVEL": os.environ.get("CASEFLOW_LOG_LEVEL", "INFO"),
           **(store_env or {})}
    return LiveServer(data, env=env).start(timeout=180)


def _tree_cpu(pid: int) -> float:
    """CPU seconds of the server and its worker processes (gunicorn forks them; waitress has none)."""
    from bench.pg import tree_cpu

    return sum(tree_cpu(pid).values())


def _server(data: Path, args: argparse.Namespace, store_env: dict[str, str] | None = None):
    """The server, timed from start until it is idle: at start-up it verifies the store, the
    deadline scheduler scans every case and the push worker walks the change feed from its cursor;
    the benchmark measures the steady state after that."""
    t0 = time.perf_counter()
    srv = launch_server(data, args, store_env)
    srv.ready_s = time.perf_counter() - t0
    busy = _tree_cpu(srv.proc.pid)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # idle: under 5% of a core over half a second
        time.sleep(0.5)
        now = _tree_cpu(srv.proc.pid)
        if now - busy < 0.025:
            break
        busy = now
    srv.idle_s = time.perf_counter() - t0
    return srv


def fresh_copy(pristine: Path, root: Path, name: str) -> Path:
    dst = root / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(pristine, dst)
    return dst


def run_push(pristine: Path, root: Path, info: dict, n_devices: int, batch: int, mutations: int,
             forms: Any, rng: random.Random, args: argparse.Namespace, pg: Any = None) -> dict[str, Any]:
    """One configuration; ``pg``: (BenchCluster, template database, workers) to serve a fresh copy
    of the prefilled store from PostgreSQL instead (``--stores postgresql``)."""
    from bench.pg import cpu_snapshot, cpu_used, serve_env, server_dir

    store_env, postmaster = None, None
    if pg is None:
        data = fresh_copy(pristine, root, "run")
    else:
        cluster, template, workers = pg
        data = server_dir(root, pristine)
        store_env, postmaster = serve_env(cluster.fresh(template), workers), cluster.postmaster()
    yard = Yardstick(str(data))
    raw = [yard.once() for _ in range(100)]
    yard.close()
    devices = [Device(USERS[i % len(USERS)], f"bench-{i:02d}-{uuid.uuid4().hex[:8]}") for i in range(n_devices)]
    pushes = max(1, round(mutations / (batch * n_devices)))
    plan(devices, info["pools"], batch, pushes, forms, rng)
    ckpt0 = checkpoint_no(data)
    srv = _server(data, args, store_env)
    try:
        for dev in devices:
            _login(srv.port, dev)
        start = threading.Barrier(n_devices + 1)
        threads = [threading.Thread(target=_device_loop, args=(srv.port, d, start), daemon=True) for d in devices]
        for t in threads:
            t.start()
        load = os.getloadavg()[0]
        watch = CheckpointWatch(data).start() if pg is None else None
        cpu0 = cpu_snapshot(srv.proc.pid, postmaster)
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if watch is not None:
            watch.stop()
        used = cpu_used(cpu0, cpu_snapshot(srv.proc.pid, postmaster))
        cpu, pg_cpu = used["server"], used.get("postgres")
    finally:
        srv.stop()
    done_at_stop = checkpoint_no(data) - ckpt0
    shutil.rmtree(data, ignore_errors=True)
    lat = [x for d in devices for x in d.latencies]
    answers = sorted([t0] + [x for d in devices for x in d.answered])
    ckpt = during_run(watch.windows if watch else [], t0, answers)
    statuses: dict[str, int] = {}
    for d in devices:
        for k, v in d.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    done = sum(statuses.values())
    applied = statuses.get("applied", 0)
    return {"devices": n_devices, "batch": batch, "pushes": len(lat), "mutations": done, "wall": wall,
            "rate": done / wall if wall else 0.0, "cpu_ms": cpu * 1000 / applied if applied else float("nan"),
            "store": "embedded" if pg is None else f"pg x{pg[2]}",
            "pg_ms": pg_cpu * 1000 / applied if applied and pg_cpu is not None else float("nan"),
            "p50": _pct(lat, 50) * 1000, "p95": _pct(lat, 95) * 1000, "p99": _pct(lat, 99) * 1000,
            "max": max(lat, default=float("nan")) * 1000,
            "pause": max((b - a for a, b in zip(answers, answers[1:], strict=False)), default=0.0) * 1000,
            "statuses": statuses, "load": load, **ckpt,
            **({} if watch else {"checkpoints": done_at_stop, "ckpt_done": done_at_stop}),
            "errors": [d.error for d in devices if d.error], "raw": statistics.median(raw) * 1000,
            "raw_p95": _pct(raw, 95) * 1000, "ready": srv.ready_s, "idle": srv.idle_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few mutations (smoke run)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--mutations", type=int, default=None,
                    help="mutations per configuration at batch 50 (a third at batch 10, an eighth at batch 1)")
    ap.add_argument("--pull", action="store_true", help="also run the pull benchmark (bench.sync_pull)")
    ap.add_argument("--pull-pages", type=int, default=300)
    ap.add_argument("--dir", default=None, help="parent directory for the temp data (default: system temp)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ckpt-mutations", type=int, default=None,
                    help="mutations of the extra rows at the largest size (>= 100k) that run with checkpoints "
                         "(default 40000; 0: none; none with --quick)")
    ap.add_argument("--profile", action="store_true", help="cProfile the push path in-process instead")
    ap.add_argument("--stores", nargs="+", choices=("embedded", "postgresql"), default=["embedded"],
                    help="the stores to serve from, side by side (postgresql: a throwaway cluster, bench.pg)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1],
                    help="server processes on PostgreSQL (caseflow serve --workers N), each measured")
    args = ap.parse_args()
    sizes = args.sizes or ([1000, 5000] if args.quick else [1000, 100000])
    at50 = args.mutations or (400 if args.quick else 4000)
    if args.ckpt_mutations is None:
        args.ckpt_mutations = 0 if args.quick else 40000
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.dir))
    started = time.perf_counter()
    cluster = None
    try:
        from forms.registry import FormRegistry

        forms = FormRegistry.load_default()
        if args.profile:
            from bench.sync_profile import profile

            profile(root, sizes[-1], forms, rng, args)
            return
        if "postgresql" in args.stores:
            from bench.pg import BenchCluster

            cluster = BenchCluster().start()
        print(f"caseflow sync benchmark: python {platform.python_version()}, {platform.system()} "
              f"{platform.machine()}, {os.cpu_count()} cpu, data in {root}; draft of {FORM} "
              f"{len(json.dumps(draft(forms)))} bytes")
        print("caseflow serve (waitress, one process) on loopback; every push acknowledged after fdatasync; "
              "a fresh copy of the prefilled store per configuration"
              + ("; PostgreSQL: serve --workers N (gunicorn), synchronous_commit on, a fresh database per "
                 "configuration" if cluster is not None else "") + "\n")
        rows, fills = [], {}

        def warm(path: Path) -> str:  # one first start, as if the server had been running
            srv = _server(path, args)
            srv.stop()
            return f"first start: up in {srv.ready_s:.1f} s, idle after {srv.idle_s:.1f} s"

        for size in sizes:
            t = time.perf_counter()
            info = fills[size] = cached_prefill(root / f"pristine-{size}", size, args.seed, warm)
            how = "from the cache" if info["cached"] else f"built in {info['seconds']:.1f} s"
            print(f"prefill {size}: {info['docs']:,} documents ({info['cases']:,} cases, {info['audit']:,} audit "
                  f"entries), {how}, ready in {time.perf_counter() - t:.1f} s; {info.get('warm', '')}", flush=True)
            if cluster is not None:  # the warmed store, copied (caseflow store copy) into a template database
                t = time.perf_counter()
                info["template"] = cluster.load_template(root / f"pristine-{size}" / "store", f"pristine_{size}")
                print(f"  copied into PostgreSQL in {time.perf_counter() - t:.1f} s", flush=True)
        targets = ([None] if "embedded" in args.stores else []) + (list(args.workers) if cluster else [])
        for n_dev in args.devices:
            for batch in args.batches:
                mutations = {1: at50 // 8, 10: at50 // 3}.get(batch, at50)
                for size, w in [(z, w) for z in sizes for w in targets]:  # interleaved: drifting load hits all alike
                    pg = None if w is None else (cluster, fills[size]["template"], w)
                    r = run_push(root / f"pristine-{size}", root, fills[size], n_dev, batch, mutations, forms,
                                 rng, args, pg)
                    r["size"] = size
                    rows.append(r)
                    print(row_line(r), flush=True)
        big = max(sizes)
        if args.ckpt_mutations and "embedded" in args.stores and big >= 100_000:
            # the rows above are too short to cross the store's checkpoint threshold (max(8 MB, a quarter of
            # the documents' bytes)) and see one through: these push enough for checkpoints to run meanwhile
            batch = 50 if 50 in args.batches else max(args.batches)
            for n_dev in args.devices:
                r = run_push(root / f"pristine-{big}", root, fills[big], n_dev, batch, args.ckpt_mutations, forms,
                             rng, args)
                r["size"] = big
                rows.append(r)
                print(row_line(r), flush=True)
        report(rows)
        if args.pull:
            from bench.sync_pull import report_pull, run_pull

            report_pull({size: run_pull(root / f"pristine-{size}", root, args.pull_pages, args) for size in sizes})
        print(f"total {time.perf_counter() - started:.0f} s")
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
