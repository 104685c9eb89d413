"""Benchmark: the embedded store's durable write unit and get-by-id as the store grows.

    .venv/bin/python -m bench.store [--sizes 1000 10000 100000] [--writes 300] [--gets 5000]

For each size: a fresh store in a temp directory is prefilled fast (large transactions, ~1 KB
documents), checkpointed, ``os.sync()``ed (so writeback of the prefill does not land in the timed
fsyncs), then timed:

(a) a durable write unit: update one random ~1 KB document (compare-and-set) + one audit entry,
    i.e. one journal record appended and fdatasync'ed before ``transaction()`` returns;
(b) ``get`` of a random id.

Yardstick, in the same directory: a raw append of a ~1 KB record + fdatasync (what the journal
does), and + fsync. Prints median / p95 per size and the growth ratio largest/smallest.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import tempfile
import time

from store import open_store

_fdatasync = getattr(os, "fdatasync", os.fsync)
PAD = "x" * 900


def _doc(i: int, rev: int = 0) -> dict:
    return {"case": f"case-{i:07d}", "rev": rev, "state": "open", "owner": "team-3", "pad": PAD}


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def _ms(values: list[float]) -> tuple[float, float]:
    return statistics.median(values) * 1000, _pct(values, 95) * 1000


def bench_size(root: str, n: int, writes: int, gets: int, rng: random.Random) -> dict:
    path = os.path.join(root, f"s{n}")
    t0 = time.perf_counter()
    s = open_store(path)
    batch = 5000
    for start in range(0, n, batch):
        with s.transaction() as u:
            for i in range(start, min(n, start + batch)):
                u.insert("cases", f"c{i:07d}", _doc(i), publish=True)
    s.checkpoint()
    prefill = time.perf_counter() - t0
    os.sync()  # let the kernel finish writing back the prefill so it does not slow the timed fsyncs
    versions = {}
    w: list[float] = []
    for k in range(writes):
        i = rng.randrange(n)
        did = f"c{i:07d}"
        v = versions.get(did, 1)
        t = time.perf_counter()
        with s.transaction() as u:
            u.update("cases", did, _doc(i, k + 1), expected_version=v, publish=True)
            u.audit({"who": "bench", "what": "update", "doc": did}, subject=f"case-{i:07d}")
        w.append(time.perf_counter() - t)
        versions[did] = v + 1
    g: list[float] = []
    ids = [f"c{rng.randrange(n):07d}" for _ in range(gets)]
    for did in ids:
        t = time.perf_counter()
        d = s.get("cases", did)
        g.append(time.perf_counter() - t)
        assert d is not None
    problems = s.verify()
    stats = s.stats()
    s.close()
    return {"n": n, "prefill": prefill, "write": _ms(w), "get": _ms(g), "problems": problems,
            "shards": stats["shards"], "bytes": _du(path)}


def _du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def yardstick(root: str, samples: int, sync) -> tuple[float, float]:
    path = os.path.join(root, f"raw-{sync.__name__}.log")
    record = os.urandom(512).hex().encode()[:1024]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    out = []
    try:
        for _ in range(samples):
            t = time.perf_counter()
            os.write(fd, record)
            sync(fd)
            out.append(time.perf_counter() - t)
    finally:
        os.close(fd)
    return _ms(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--writes", type=int, default=300)
    ap.add_argument("--gets", type=int, default=5000)
    ap.add_argument("--dir", default=None, help="parent directory for the temp data (default: system temp)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = tempfile.mkdtemp(prefix="bench-store-", dir=args.dir)
    try:
        print(f"caseflow store benchmark: python {platform.python_version()}, {platform.system()} "
              f"{platform.machine()}, {os.cpu_count()} cpu, data in {root}")
        print(f"{args.writes} write units and {args.gets} gets per size; documents ~1 KB\n")
        rows = [bench_size(root, n, args.writes, args.gets, rng) for n in args.sizes]
        raw_d = yardstick(root, args.writes, _fdatasync)
        raw_f = yardstick(root, args.writes, os.fsync)
        head = f"{'docs':>8} {'prefill s':>9} {'write med ms':>12} {'write p95 ms':>12} " \
               f"{'get med us':>10} {'get p95 us':>10} {'shards':>6} {'disk MB':>8} verify"
        print(head)
        print("-" * len(head))
        for r in rows:
            print(f"{r['n']:>8} {r['prefill']:>9.2f} {r['write'][0]:>12.3f} {r['write'][1]:>12.3f} "
                  f"{r['get'][0] * 1000:>10.2f} {r['get'][1] * 1000:>10.2f} {r['shards']:>6} "
                  f"{r['bytes'] / 1e6:>8.1f} {'ok' if not r['problems'] else r['problems'][:2]}")
        print()
        print(f"yardstick, same directory: append 1 KB + fdatasync  median {raw_d[0]:.3f} ms  p95 {raw_d[1]:.3f} ms")
        print(f"                           append 1 KB + fsync      median {raw_f[0]:.3f} ms  p95 {raw_f[1]:.3f} ms")
        if len(rows) > 1:
            a, b = rows[0], rows[-1]
            print(f"\ngrowth {b['n']}/{a['n']} docs: write median x{b['write'][0] / a['write'][0]:.2f}, "
                  f"p95 x{b['write'][1] / a['write'][1]:.2f}; get median x{b['get'][0] / a['get'][0]:.2f}, "
                  f"p95 x{b['get'][1] / a['get'][1]:.2f}")
            print(f"write unit median / raw append+fdatasync median: "
                  f"{a['write'][0] / raw_d[0]:.2f} at {a['n']}, {b['write'][0] / raw_d[0]:.2f} at {b['n']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
