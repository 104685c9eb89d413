"""Yardstick of issue #15: PouchDB Server 4.2.0 given the same drafts as ``bench.sync``, side by side.

    .venv/bin/python -m bench.pouch [--docs 1000] [--devices 1 4] [--batches 1 10 50] [--mutations 4000]

PouchDB Server (node, LevelDB) is installed from the locked tree in ``bench/pouchdb/`` (``npm ci``
there on first use; it is not a dependency of caseflow). Each configuration starts a fresh server on
a fresh directory, fills ``--docs`` documents of the same ~1.2 KB draft of
``rapid_review_agency_return`` that ``bench.sync`` pushes (:func:`bench.sync.draft`), then each
device (a client thread with a keep-alive connection) updates its own documents with the revision it
holds, one untimed round (node compiles hot code as it runs) and then the timed one:
``POST /db/_bulk_docs`` at batches over 1, ``PUT /db/<id>`` at batch 1. Printed: the node
process's CPU time per written document (``/proc/<pid>/stat``, as ``bench.sync`` reads caseflow's),
documents/s and push latency. PouchDB Server does not fsync before it answers, checks no access,
validates no field and keeps no audit: it is the floor of what a document write costs, not a peer.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.sync import _pct, cpu_seconds, draft

HERE = Path(__file__).resolve().parent / "pouchdb"
DOCS_PER_DEVICE = 8


def _ensure_installed() -> Path:
    server = HERE / "node_modules" / "pouchdb-server" / "bin" / "pouchdb-server"
    if not server.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)
    return server


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pouch:
    def __init__(self, server: Path, data: str):
        self.port = _free_port()
        # its config.json and request log (log.txt, a line per request, as caseflow logs) go in data
        self.proc = subprocess.Popen(["node", str(server), "-p", str(self.port), "-d", data], cwd=data,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.request("GET", "/")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("PouchDB Server did not start within 60 s") from None
                time.sleep(0.2)

    def request(self, method: str, path: str, body: object = None, conn: http.client.HTTPConnection | None = None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        c.request(method, path, None if body is None else json.dumps(body), {"Content-Type": "application/json"})
        resp = c.getresponse()
        raw = resp.read()
        if conn is None:
            c.close()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path} answered {resp.status}: {raw[:200]!r}")
        return json.loads(raw)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def run(server: Path, docs: int, devices: int, batch: int, mutations: int, template: dict, seed: int) -> dict:
    data = tempfile.mkdtemp(prefix="bench-pouch-")
    pouch = Pouch(server, data)
    try:
        pouch.request("PUT", "/bench")
        revs: dict[str, str] = {}
        for start in range(0, docs, 500):
            chunk = [{"_id": f"case-{i:07d}", **template} for i in range(start, min(docs, start + 500))]
            for r in pouch.request("POST", "/bench/_bulk_docs", {"docs": chunk}):
                revs[r["id"]] = r["rev"]
        ids = list(revs)
        rng = random.Random(seed)
        per_device = max(batch, DOCS_PER_DEVICE)  # a batch updates each of its documents once
        mine = [ids[i * per_device:(i + 1) * per_device] for i in range(devices)]
        pushes = max(1, round(mutations / (batch * devices)))
        latencies: list[float] = []
        lock = threading.Lock()
        barrier = threading.Barrier(devices + 1)

        def device(own: list[str]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", pouch.port, timeout=120)
            seq = 0
            barrier.wait()
            for _ in range(pushes):
                chosen = rng.sample(own, batch)
                body = []
                for doc_id in chosen:
                    seq += 1
                    d = copy.deepcopy(template)
                    d["involvement_summary"] = f"Draft {seq}: " + d["involvement_summary"]
                    body.append({"_id": doc_id, "_rev": revs[doc_id], **d})
                t = time.perf_counter()
                if batch == 1:
                    results = [pouch.request("PUT", f"/bench/{body[0]['_id']}", body[0], conn)]
                else:
                    results = pouch.request("POST", "/bench/_bulk_docs", {"docs": body}, conn)
                took = time.perf_counter() - t
                for r in results:
                    if "rev" not in r:
                        raise RuntimeError(f"PouchDB refused a write: {r}")
                    revs[r["id"]] = r["rev"]
                with lock:
                    latencies.append(took)
            conn.close()

        def timed_run() -> None:
            threads = [threading.Thread(target=device, args=(own,), daemon=True) for own in mine]
            for t in threads:
                t.start()
            barrier.wait()
            for t in threads:
                t.join()

        # node compiles hot code as it runs: one untimed round first, so the timed one is warm
        timed_run()
        latencies.clear()
        threads = [threading.Thread(target=device, args=(own,), daemon=True) for own in mine]
        for t in threads:
            t.start()
        load = os.getloadavg()[0]
        cpu0 = cpu_seconds(pouch.proc.pid)
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(pouch.proc.pid) - cpu0
    finally:
        pouch.stop()
        shutil.rmtree(data, ignore_errors=True)
    written = len(latencies) * batch
    return {"docs": docs, "devices": devices, "batch": batch, "written": written, "cpu_ms": cpu * 1000 / written,
            "rate": written / wall, "p50": statistics.median(latencies) * 1000, "p99": _pct(latencies, 99) * 1000,
            "max": max(latencies) * 1000, "load": load}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--mutations", type=int, default=4000, help="documents written per configuration at batch 50 "
                    "(a third at batch 10, an eighth at batch 1, as bench.sync)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from forms.registry import FormRegistry

    server = _ensure_installed()
    template = draft(FormRegistry.load_default())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"PouchDB Server 4.2.0 (node {node}, LevelDB) on loopback; draft {len(json.dumps(template))} bytes; "
          f"{args.docs:,} documents; a fresh server per configuration")
    print(f"{'docs':>7} {'dev':>3} {'batch':>5} {'docs':>5} {'CPU ms/doc':>10} {'docs/s':>7} {'p50':>6} {'p99':>6} "
          f"{'max':>6} {'load':>5}")
    for devices in args.devices:
        for batch in args.batches:
            n = {1: args.mutations // 8, 10: args.mutations // 3}.get(batch, args.mutations)
            r = run(server, args.docs, devices, batch, n, template, args.seed)
            print(f"{r['docs']:>7} {r['devices']:>3} {r['batch']:>5} {r['written']:>5} {r['cpu_ms']:>10.3f} "
                  f"{r['rate']:>7,.0f} {r['p50']:>6.1f} {r['p99']:>6.1f} {r['max']:>6.1f} {r['load']:>5.2f}",
                  flush=True)
    print("(CPU ms/doc = the node process's CPU time over the run / documents written; p50..max = request latency "
          "in ms; load = 1-minute load average at the start)")


if __name__ == "__main__":
    main()
