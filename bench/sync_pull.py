"""``bench.sync --pull``: pages of 100 changes from the empty cursor over real loopback HTTP.

On a fresh copy of the prefilled store: an agency lead who sees a quarter of the cases (first, on a
cold server), a user who sees every case (business team), and the agency lead again (the feed's
per-case audience cache now warm); the first page (which carries the form and case-type
definitions) is timed apart.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from bench.sync import Device, _login, _pct, _server, fresh_copy


def run_pull(pristine: Path, root: Path, max_pages: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    data = fresh_copy(pristine, root, "pull")
    srv = _server(data, args)
    out = []
    try:
        # the police lead first, on a cold server (its feed filter has not yet cached any case's
        # audience), then the business team, then the police lead again (warm)
        for username, label in (("esx.police-dsl", "police cold"), ("esx.business", "business"),
                                ("esx.police-dsl", "police warm")):
            dev = Device(username, f"bench-pull-{uuid.uuid4().hex[:8]}")
            _login(srv.port, dev)
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
            headers = {"Authorization": f"Bearer {dev.token}"}
            cursor, first, pages, changes = "", None, [], 0
            t0 = time.perf_counter()
            while len(pages) < max_pages:
                t = time.perf_counter()
                conn.request("GET", f"/api/v1/sync/pull?limit=100&cursor={cursor}", headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                took = time.perf_counter() - t
                if resp.status != 200:
                    raise RuntimeError(f"pull answered {resp.status}: {raw[:300]!r}")
                body = json.loads(raw)
                if first is None:
                    first = took
                    t0 = time.perf_counter()  # page throughput without the definitions page
                else:
                    pages.append(took)
                    changes += len(body["changes"])
                cursor = body["cursor"]
                if not body["has_more"]:
                    break
            wall = time.perf_counter() - t0
            conn.close()
            out.append({"user": label, "first": first * 1000, "pages": len(pages), "changes": changes,
                        "rate": len(pages) / wall if pages and wall else float("nan"),
                        "p50": _pct(pages, 50) * 1000, "p95": _pct(pages, 95) * 1000})
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    return out


def report_pull(pulls: dict[int, list[dict[str, Any]]]) -> None:
    print("\npull, pages of 100 changes from the empty cursor (the first page, with the definitions, apart):")
    for size, rows in pulls.items():
        for p in rows:
            print(f"  {size:>7} docs {p['user']:<12} first page {p['first']:>6.1f} ms; then {p['pages']} pages "
                  f"({p['changes']:,} changes): {p['rate']:>6.1f} pages/s, p50 {p['p50']:.1f} ms, "
                  f"p95 {p['p95']:.1f} ms")

