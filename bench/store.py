"""Benchmark: the embedded store's durable write unit and get-by-id as the store grows.

    .venv/bin/python -m bench.store [--sizes 1000 10000 100000] [--writes 2000] [--gets 20000] [--dir D]
    .venv/bin/python -m bench.store --cold /tmp/caseflow-bench-cache/100000-*/data/store

For each size, in a fresh store under one temp directory (same disk for everything):

1. prefill ``size`` ~1 KB published documents with big transactions (5,000 per unit), checkpoint,
   ``os.sync()`` (so the prefill's write-back does not land in the timed fsyncs);
2. write unit: update one random ~1 KB document (compare-and-set) + one audit entry, committed
   durably (``transaction()`` returns after the journal fdatasync) - timed per unit;
3. yardstick, interleaved with the write units (one each, alternately, so both see the same disk
   conditions): raw append of a ~1 KB record + fdatasync to a file in the same directory, which
   is what a journal commit costs at the very least;
4. get of a random id - timed per call;
5. the checkpoint that writes the shards those updates dirtied (reported as its duration and
   that divided by the timed write units);
6. sustained: write units back to back until the store's own threshold fires a background
   checkpoint, and wait for it: wall time per unit including that checkpoint;
7. close; cold start: ``open_store`` in a fresh process (imports, load shards, replay the journal),
   timed, with the process's resident memory (VmRSS) after it; then ``verify()``.

Prints median / p95 per size, the growth ratio largest/smallest, and the ratio to the yardstick.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from store import open_store

_fdatasync = getattr(os, "fdatasync", os.fsync)
PAD = "x" * 860


def _doc(i: int, rev: int = 0) -> dict:
    return {"case": f"case-{i:07d}", "rev": rev, "state": "open", "owner": "team-3", "pad": PAD}


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def _summary(values: list[float], scale: float) -> tuple[float, float]:
    return statistics.median(values) * scale, _pct(values, 95) * scale


class Yardstick:
    """Raw append of a ~1 KB record + fdatasync to a file in the same directory."""

    def __init__(self, root: str):
        self.path = os.path.join(root, "raw-append.log")
        self.record = (os.urandom(512).hex() + "\n").encode()[:1024]
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def once(self) -> float:
        t = time.perf_counter()
        os.write(self.fd, self.record)
        _fdatasync(self.fd)
        return time.perf_counter() - t

    def close(self) -> None:
        os.close(self.fd)
        os.unlink(self.path)


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
    os.sync()

    versions: dict[str, int] = {}

    def write_unit(k: int) -> None:
        i = rng.randrange(n)
        did = f"c{i:07d}"
        v = versions.get(did, 1)
        with s.transaction() as u:
            u.update("cases", did, _doc(i, k), expected_version=v, publish=True)
            u.audit({"who": "bench", "what": "update", "doc": did}, subject=f"case-{i:07d}")
        versions[did] = v + 1

    ck_before = s.stats()["checkpoints_this_session"]
    w: list[float] = []
    y: list[float] = []
    yard = Yardstick(root)
    for k in range(writes):  # interleaved, so both see the same disk conditions
        y.append(yard.once())
        t = time.perf_counter()
        write_unit(k)
        w.append(time.perf_counter() - t)
    yard.close()
    raw = _summary(y, 1000)
    ck_during = s.stats()["checkpoints_this_session"] - ck_before

    g: list[float] = []
    ids = [f"c{rng.randrange(n):07d}" for _ in range(gets)]
    for did in ids:
        t = time.perf_counter()
        d = s.get("cases", did)
        g.append(time.perf_counter() - t)
        assert d is not None

    st = s.stats()
    record = st["journal_bytes_since_checkpoint"] / max(1, st["records_since_checkpoint"])
    t = time.perf_counter()
    s.checkpoint()
    ck = time.perf_counter() - t

    # sustained: write back-to-back until the store's own threshold fires a background
    # checkpoint, and count the time until that checkpoint is done
    st = s.stats()
    units = int(st["checkpoint_threshold_bytes"] / record) + 1
    c0 = st["checkpoints_this_session"]
    t = time.perf_counter()
    for k in range(units):
        write_unit(writes + k)
    while s.stats()["checkpoints_this_session"] == c0:
        time.sleep(0.002)
    sustained = (time.perf_counter() - t) / units
    stats = s.stats()
    s.close()
    reopen, rss, cold_cpu = cold_start(path)
    s = open_store(path)
    problems = s.verify()
    s.close()
    return {"n": n, "prefill": prefill, "raw": raw, "write": _summary(w, 1000), "get": _summary(g, 1e6),
            "ck": ck, "ck_during": ck_during, "sustained": sustained * 1000, "units": units,
            "reopen": reopen, "rss": rss, "cold_cpu": cold_cpu, "problems": problems,
            "shards": stats["shards"], "mb": _du(path) / 1e6}


_COLD = """
import resource, sys, time
t = time.perf_counter()
from store import open_store
s = open_store(sys.argv[1])
took = time.perf_counter() - t
with open("/proc/self/status") as f:
    rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
s.close()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(took, rss / 1024, ru.ru_utime + ru.ru_stime)
"""


def cold_start(path: str) -> tuple[float, float, float]:
    """Open the store in a fresh process (imports included): seconds until it serves, its resident MB,
    and the CPU seconds it took (robust to other load on the machine, unlike the wall time)."""
    out = subprocess.run([sys.executable, "-c", _COLD, path], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    took, rss, cpu = (float(x) for x in out.stdout.split())
    return took, rss, cpu


def _du(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument("--gets", type=int, default=20000)
    ap.add_argument("--dir", default=None, help="parent directory for the temp data (default: system temp)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cold", metavar="STORE_DIR", nargs="+",
                    help="only the cold start (fresh process) of existing stores, e.g. a bench.sync prefill")
    args = ap.parse_args()
    if args.cold:
        for path in args.cold:
            took, rss, cpu = cold_start(path)
            print(f"cold start of {path}: {took:.2f} s ({cpu:.2f} s CPU), RSS {rss:.0f} MB; "
                  f"load average {os.getloadavg()[0]:.2f}")
        return
    rng = random.Random(args.seed)
    root = tempfile.mkdtemp(prefix="bench-store-", dir=args.dir)
    started = time.perf_counter()
    try:
        print(f"caseflow store benchmark: python {platform.python_version()}, {platform.system()} "
              f"{platform.machine()}, {os.cpu_count()} cpu, data in {root}")
        print(f"{args.writes} durable write units and {args.gets} gets per size; documents ~1 KB\n")
        rows = [bench_size(root, n, args.writes, args.gets, rng) for n in args.sizes]
        head = (f"{'docs':>7} {'prefill s':>9} {'raw fsync ms':>12} {'write med ms':>12} {'write p95 ms':>12} "
                f"{'get med us':>10} {'get p95 us':>10} {'ckpt ms':>8} {'ckpt/write us':>13} {'sustained ms':>12} "
                f"{'cold s':>6} {'CPU s':>5} {'RSS MB':>6} "
                f"{'shards':>6} {'MB':>6} verify")
        print(head)
        print("-" * len(head))
        for r in rows:
            print(f"{r['n']:>7} {r['prefill']:>9.2f} {r['raw'][0]:>6.3f}/{r['raw'][1]:<5.3f} "
                  f"{r['write'][0]:>12.3f} {r['write'][1]:>12.3f} {r['get'][0]:>10.2f} {r['get'][1]:>10.2f} "
                  f"{r['ck'] * 1000:>8.1f} {r['ck'] * 1e6 / args.writes:>13.1f} {r['sustained']:>12.3f} "
                  f"{r['reopen']:>6.2f} {r['cold_cpu']:>5.2f} {r['rss']:>6.0f} "
                  f"{r['shards']:>6} {r['mb']:>6.1f} {'ok' if not r['problems'] else r['problems'][:2]}")
        print("(raw fsync ms = yardstick median/p95: append 1 KB + fdatasync, same directory, same run;\n"
              " cold s / CPU s / RSS MB = open_store in a fresh process, imports included: wall, CPU, resident\n"
              " memory;\n"
              " sustained ms = wall time per write unit over "
              + ", ".join(f"{r['units']}" for r in rows)
              + " units including the background checkpoint they trigger)")
        if any(r["ck_during"] for r in rows):
            print("background checkpoints during the timed writes: "
                  + ", ".join(f"{r['n']}: {r['ck_during']}" for r in rows))
        if len(rows) > 1:
            a, b = rows[0], rows[-1]
            print(f"\ngrowth {b['n']}/{a['n']} docs: write median x{b['write'][0] / a['write'][0]:.2f}, "
                  f"p95 x{b['write'][1] / a['write'][1]:.2f}; get median x{b['get'][0] / a['get'][0]:.2f}, "
                  f"p95 x{b['get'][1] / a['get'][1]:.2f}; sustained write x{b['sustained'] / a['sustained']:.2f}")
        for r in rows:  # issue #15 item 4: at 100k documents, under 2 s and under 300 MB
            print(f"cold start at {r['n']:,} documents: {r['reopen']:.2f} s ({r['cold_cpu']:.2f} s CPU), "
                  f"resident memory {r['rss']:.0f} MB")
        print("write unit median / yardstick median: "
              + ", ".join(f"{r['write'][0] / r['raw'][0]:.2f} at {r['n']}" for r in rows))
        print(f"total {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
