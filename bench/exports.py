"""Exports in bounded memory: peak Python memory while streaming cases.csv, cases.xlsx and
deadlines.csv at 1k, 10k and 100k cases, against building the same CSV in memory in the same run.

Usage: ``.venv/bin/python -m bench.exports [--cases 100000] [--store postgresql] [--only cases.csv]``
(``postgresql``: a throwaway cluster, bench.pg; the figure is then the Python process's memory, the
database server's is its own). The export runs through the real
Flask app (its streamed response read chunk by chunk and thrown away, as a download would); a
sampling thread reads the process's resident memory (``/proc/self/statm``) every 10 ms and the
figure is the peak growth over the resident memory just before the export (the embedded store
keeps its documents in memory, so the baseline grows with the cases; the export must not).
Cases are written as documents directly (the benchmark's set-up, not the write path).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

PASSWORD = "bench-password-long"
EXPORTS = (("cases.csv", "/api/v1/exports/cases.csv"), ("cases.xlsx", "/api/v1/exports/cases.xlsx"),
           ("deadlines.csv", "/api/v1/exports/deadlines.csv?from=2025-01-01&to=2027-12-31"))
TODAY = dt.date(2026, 3, 10)


def seed(store: Any, version: int, start: int, end: int, rng: random.Random) -> None:
    from sync.clock import rfc3339
    from sync.context import submission_id

    at = rfc3339(dt.datetime(2026, 3, 10, 10, tzinfo=dt.UTC))
    for lo in range(start, end, 500):
        with store.transaction() as uow:
            for i in range(lo, min(end, lo + 500)):
                case_id = str(uuid.uuid4())
                aware = TODAY - dt.timedelta(days=rng.randint(0, 90))
                state = rng.choice(["referred", "sin_consideration", "rapid_review"])
                history = [("referred", aware)] + ([("sin_consideration", aware)] if state != "referred" else [])
                forms = [("crg_referral", {"la_aware_date": aware.isoformat(),
                                           "involved_agencies": ["esx-schools", "sussex-police"],
                                           "child": {"name": f"Child {i}", "date_of_birth": "2014-05-06"},
                                           "incident_description": "x" * 600})]
                if state == "rapid_review":
                    notified = aware + dt.timedelta(days=rng.randint(1, 6))
                    history.append(("rapid_review", notified))
                    forms.append(("sin_decision", {"decision": "notify", "notified_on": notified.isoformat()}))
                subs = {}
                for form_id, data in forms:
                    sub_id = submission_id(case_id, form_id, None)
                    subs[sub_id] = {"form_id": form_id, "agency_id": None, "status": "final"}
                    uow.insert("submissions", sub_id, {
                        "submission_id": sub_id, "case_id": case_id, "form_id": form_id, "form_version": 1,
                        "agency_id": None, "status": "final", "data": data, "updated_at": at, "updated_by": "u",
                        "partnership": "east-sussex", "open_conflicts": []}, publish=True)
                uow.insert("cases", case_id, {
                    "case_id": case_id, "reference": f"ESX-2026-{i:06d}", "case_type": "serious_incident",
                    "case_type_version": version, "partnership": "east-sussex", "state": state,
                    "state_history": [{"state": s, "entered_at": at, "entered_on": d.isoformat(), "event": None,
                                       "by": "u"} for s, d in history],
                    "involved_agencies": ["esx-schools", "sussex-police"], "referring_agency": None,
                    "invited_partnerships": [], "assigned_reviewers": [], "pending": None, "last_rejection": None,
                    "submissions": subs, "created_at": at, "created_by": "u", "updated_at": at, "seen_by": [],
                }, publish=True)


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Peak resident memory above the level at entry, sampled every 10 ms."""

    def __enter__(self) -> PeakRss:
        self.base = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def measure(http: Any, headers: dict, path: str) -> tuple[int, int, float]:
    """(bytes, peak resident growth during the export, seconds)."""
    started = time.perf_counter()
    with PeakRss() as mem:
        resp = http.get(path, headers=headers, buffered=False)
        assert resp.status_code == 200, resp.status_code
        size = sum(len(chunk) for chunk in resp.response)
        resp.close()
    return size, mem.growth, time.perf_counter() - started


def naive_csv(app: Any, actor: Any) -> tuple[int, int]:
    """The yardstick: every row built first, then the whole file as one string."""
    with PeakRss() as mem:
        size = _naive(app, actor)
    return size, mem.growth


def _naive(app: Any, actor: Any) -> int:
    from server.reports.exports import case_columns, case_record
    from sync import oversight

    reader = app.extensions["caseflow"].reader
    rows = [oversight.case_row(reader, d, TODAY) for d in oversight.visible_cases(reader, actor)]
    names = [c["name"] for c in rows[0]["clocks"]] if rows else []
    text = "\r\n".join(",".join(str(v) for v in rec) for rec in
                       [case_columns(names)] + [case_record(r, names, {}) for r in rows])
    return len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--store", choices=("embedded", "postgresql"), default="embedded")
    parser.add_argument("--only", nargs="+", choices=[name for name, _ in EXPORTS], default=None,
                        help="run only these exports (and not the in-memory yardstick)")
    args = parser.parse_args()
    from server.app import create_app
    from server.config import Settings
    from sync.clock import LONDON, Clock

    root = Path(tempfile.mkdtemp(prefix="caseflow-bench-exports-"))
    print(f"caseflow bench.exports  python {platform.python_version()}  {platform.machine()}  "
          f"{os.cpu_count()} CPUs  data in {root}  store {args.store}  load {os.getloadavg()[0]:.1f}")
    cluster, url = None, None
    if args.store == "postgresql":
        from bench.pg import BenchCluster

        cluster = BenchCluster().start()
        url = cluster.dbs.create()
    clock = Clock(dt.datetime.combine(TODAY, dt.time(10), tzinfo=LONDON))
    app = create_app(Settings(data_dir=root / "data", store_url=url), clock=clock)
    svc = app.extensions["caseflow"]
    try:
        svc.accounts.add_partnership("east-sussex", "East Sussex")
        svc.accounts.add_agency("esx-schools", "east-sussex", "education", "East Sussex Schools")
        user = svc.accounts.add_user("esx.business", PASSWORD, "east-sussex", ["business_team"])
        version = svc.case_types.get("serious_incident").version
        http = app.test_client()

        def token() -> dict:  # a fresh access token per export: a 100k run outlasts one
            login = http.post("/api/v1/auth/login", json={"username": "esx.business", "password": PASSWORD,
                                                          "device_id": "bench-device-01"}).get_json()
            return {"Authorization": f"Bearer {login['access_token']}"}

        actor = svc.accounts.actor_for(user)
        rng, have = random.Random(12), 0
        sizes = [n for n in (1_000, 10_000, 100_000) if n < args.cases] + [args.cases]
        print(f"{'cases':>8} {'export':<16} {'bytes':>12} {'peak RSS +':>12} {'seconds':>8} {'rows/s':>9}")
        for n in sizes:
            started = time.perf_counter()
            seed(svc.store, version, have, n, rng)
            have = n
            if hasattr(svc.store, "checkpoint"):  # the embedded store's checkpoint of the set-up now,
                svc.store.checkpoint()  # not in a background thread during the first export
            print(f"  ({n} cases written in {time.perf_counter() - started:.1f} s; "
                  f"resident {rss() / 1e6:.0f} MB)", flush=True)
            for name, path in EXPORTS:
                if args.only and name not in args.only:
                    continue
                size, peak, secs = measure(http, token(), path)
                print(f"{n:>8} {name:<16} {size:>12,} {peak / 1e6:>10.1f}MB {secs:>8.1f} {n / secs:>9,.0f}  "
                      f"(load {os.getloadavg()[0]:.1f})", flush=True)
            if args.only:  # the yardstick only on a full run
                continue
            size, peak = naive_csv(app, actor)  # last: the memory it takes is not all given back
            print(f"{n:>8} {'naive csv':<16} {size:>12,} {peak / 1e6:>10.1f}MB   (yardstick: whole file in memory)")
    finally:
        svc.store.close()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
