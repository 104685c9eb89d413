"""Benchmark: Web Push delivery throughput and the deadline scan.

    .venv/bin/python -m bench.push [--subs 1000] [--cases 10000] [--concurrency 8]

1. **Delivery**: 1,000 users with one subscribed device each; alerts written the way the write path
   writes them; the real worker (``deliver_pending``: pywebpush, aes128gcm encryption, ES256 VAPID
   signature per request, durable claim and result commits in the embedded store) sends them to a
   loopback push service running in another process that verifies every VAPID JWT and decrypts
   every body. Two shapes: 1,000 alerts to one user each, and 5 alerts to all 1,000 users.
2. **Deadline scan**: 10,000 open cases (case, referral and SIN decision documents as the write path
   stores them, start dates spread over three months, a mix of states) and one full
   ``scan_deadlines``, then the same scan again (everything already written).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import platform
import random
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


# -- the push service, in its own process --------------------------------------------------------
def _receiver(conn: Any, n_subs: int, vapid_public_key: str) -> None:
    from tests.push.pushservice import FakePushService

    fake = FakePushService(vapid_public_key).start()
    subs = [fake.subscription(f"/push/{i:05d}") for i in range(n_subs)]
    conn.send(subs)
    while True:
        cmd = conn.recv()
        if cmd == "stats":
            conn.send({"accepted": len(fake.accepted()), "errors": len(fake.errors), "received": len(fake.receipts)})
        elif cmd == "stop":
            fake.stop()
            conn.send("bye")
            return


def bench_delivery(root: Path, n_subs: int, concurrency: int) -> list[str]:
    from server.auth.accounts import Accounts
    from server.config import Settings
    from server.push.cli import PushServices
    from server.push.config import PushConfig
    from server.push.subscriptions import subscribe
    from server.push.vapid import load_or_create_vapid
    from server.push.worker import close_sender, deliver_pending
    from store import open_store
    from sync.clock import Clock, rfc3339
    from tests.push.helpers import write_alert

    data = root / "delivery"
    settings = Settings(data_dir=data, push_allow_http_loopback=True, public_url="https://caseflow.example")
    svc = PushServices(settings=settings, store=open_store(data / "store"), clock=Clock())
    svc.extra["push_config"] = PushConfig(subject="mailto:bench@caseflow.example", timeout=10, concurrency=concurrency)
    keys = load_or_create_vapid(data)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_receiver, args=(child, n_subs, keys.public_key), daemon=True)
    proc.start()
    subs = parent.recv()
    out = []
    try:
        accounts = Accounts(svc.store, svc.clock)
        accounts.add_partnership("east-sussex", "East Sussex")
        now = rfc3339(svc.clock.now())
        users = []
        for i in range(n_subs):  # accounts without the password hash cost: insert the documents directly
            user_id = uuid.uuid4().hex
            users.append(user_id)
            with svc.store.transaction() as uow:
                uow.insert("users", user_id, {"user_id": user_id, "username": f"user{i}", "partnership": "east-sussex",
                                              "agency": None, "roles": ["business_team"], "password_hash": "x",
                                              "disabled": False, "created_at": now})
            subscribe(svc.store, user_id=user_id, device_id=f"device-{i:06d}", partnership="east-sussex",
                      endpoint=subs[i]["endpoint"], keys=subs[i]["keys"], at=now)

        def run(label: str, alerts: list[list[str]]) -> None:
            for recipients in alerts:
                write_alert(svc, recipients, reference="ESX-2026-0001")
            parent.send("stats")
            before = parent.recv()["accepted"]
            commits = svc.store.stats().get("units_committed", 0)
            started = time.perf_counter()
            sent = 0
            while True:
                stats = deliver_pending(svc)
                sent += stats.get("sent", 0)
                if not stats.get("sent") and not stats.get("expanded"):
                    break
            elapsed = time.perf_counter() - started
            commits = svc.store.stats().get("units_committed", 0) - commits
            parent.send("stats")
            after = parent.recv()
            assert after["errors"] == 0, after
            assert after["accepted"] - before == sent == sum(len(a) for a in alerts), (after, before, sent)
            out.append(f"  {label}: {sent} pushes in {elapsed:.2f} s = {sent / elapsed:,.0f} pushes/s, "
                       f"{len(alerts) / elapsed:,.1f} alerts/s; {commits} store commits (fsync'd); "
                       "every push verified and decrypted by the push service")

        run(f"{n_subs} alerts x 1 recipient", [[u] for u in users])
        run(f"5 alerts x {n_subs} recipients", [users] * 5)
    finally:
        parent.send("stop")
        parent.recv()
        proc.join(10)
        close_sender(svc)
        svc.store.close()
    return out


# -- the deadline scan ------------------------------------------------------------------------------
def _registry():
    """The real case-type registry when it is available, else the tests' definition (same clocks)."""
    try:
        from statemachines import CaseTypeRegistry  # type: ignore[attr-defined]

        registry = CaseTypeRegistry.load_default()
        registry.get("serious_incident")
        return registry, "statemachines.CaseTypeRegistry (serious_incident)"
    except (ImportError, AttributeError, KeyError):
        from tests.push.casefixtures import CaseTypes, case_type

        ct = case_type()
        return CaseTypes({(ct.case_type, ct.version): ct}), "tests/push/casefixtures.py definition (SIN + rapid review)"


def bench_scan(root: Path, n_cases: int) -> list[str]:
    from server.auth.accounts import Accounts
    from server.config import Settings
    from server.push.deadlines import scan_deadlines
    from store import open_store
    from sync.clock import LONDON, Clock, rfc3339
    from sync.context import submission_id
    from sync.views import Reader
    from tests.push.casefixtures import DeadlineServices
    from tests.push.helpers import PASSWORD

    registry, source = _registry()
    version = registry.get("serious_incident").version
    data = root / "scan"
    today = dt.date(2026, 3, 10)
    clock = Clock(dt.datetime.combine(today, dt.time(10), tzinfo=LONDON))
    store = open_store(data / "store")
    svc = DeadlineServices(settings=Settings(data_dir=data), store=store, clock=clock,
                           reader=Reader(store, None, registry, clock), case_types=registry)
    from server.push.config import PushConfig

    svc.extra["push_config"] = PushConfig(from_hour=0)
    accounts = Accounts(store, clock)
    accounts.add_partnership("east-sussex", "East Sussex")
    # 300 users as a partnership has them (documents as Accounts writes them, without the hashing cost)
    mix = ([["business_team"]] * 6 + [["crg_member"]] * 10 + [["statutory_lead"]] * 3
           + [["la_head_of_safeguarding"]] * 2 + [["agency_safeguarding_lead"]] * 80 + [["practitioner"]] * 199)
    with store.transaction() as uow:
        for i, roles in enumerate(mix):
            user_id = uuid.uuid4().hex
            uow.insert("users", user_id, {"user_id": user_id, "username": f"user{i}", "partnership": "east-sussex",
                                          "agency": None, "roles": roles, "password_hash": "x",
                                          "disabled": False, "created_at": rfc3339(clock.now())})
    accounts.add_user("esx.business", PASSWORD, "east-sussex", ["business_team"])
    rng = random.Random(6)
    at = rfc3339(clock.now())
    started = time.perf_counter()
    batch = 500
    for start in range(0, n_cases, batch):
        with store.transaction() as uow:
            for i in range(start, min(n_cases, start + batch)):
                case_id = str(uuid.uuid4())
                aware = today - dt.timedelta(days=rng.randint(0, 90))
                state = rng.choice(["referred", "sin_consideration", "sin_consideration", "rapid_review"])
                history = [("referred", aware)]
                subs = {}
                ref = submission_id(case_id, "crg_referral", None)
                forms = [(ref, "crg_referral", {
                    "la_aware_date": aware.isoformat(), "involved_agencies": ["esx-schools", "sussex-police"],
                    "child": {"name": f"Child {i}", "date_of_birth": "2014-05-06", "looked_after": False,
                              "care_leaver": False, "gender": "female", "ethnicity": "White British"},
                    "incident_date": aware.isoformat(), "incident_description": "x" * 600,
                    "death_or_serious_harm": "serious_harm", "abuse_or_neglect_suspected": True})]
                if state != "referred":
                    history.append(("sin_consideration", aware))
                if state == "rapid_review":
                    notified = aware + dt.timedelta(days=rng.randint(1, 6))
                    history.append(("rapid_review", notified))
                    sin = submission_id(case_id, "sin_decision", None)
                    forms.append((sin, "sin_decision", {"decision": "notify", "notified_on": notified.isoformat(),
                                                        "child_died_or_seriously_harmed": True,
                                                        "abuse_or_neglect_known_or_suspected": True}))
                for sub_id, form_id, form_data in forms:
                    subs[sub_id] = {"form_id": form_id, "agency_id": None, "status": "final"}
                    uow.insert("submissions", sub_id, {
                        "submission_id": sub_id, "case_id": case_id, "form_id": form_id, "form_version": 1,
                        "agency_id": None, "status": "final", "data": form_data, "updated_at": at,
                        "updated_by": "u", "partnership": "east-sussex", "open_conflicts": []}, publish=True)
                    uow.insert("revisions", f"{sub_id}@1", {"revision": 1, "status": "final", "form_version": 1,
                                                            "data": form_data, "at": at, "by": "u"})
                uow.insert("cases", case_id, {
                    "case_id": case_id, "reference": f"ESX-2026-{i:05d}", "case_type": "serious_incident",
                    "case_type_version": version, "partnership": "east-sussex", "state": state,
                    "state_history": [{"state": s, "entered_at": at, "entered_on": d.isoformat(), "event": None,
                                       "by": "u"} for s, d in history],
                    "involved_agencies": ["esx-schools", "sussex-police"], "referring_agency": None,
                    "invited_partnerships": [], "assigned_reviewers": [], "pending": None, "last_rejection": None,
                    "submissions": subs, "created_at": at, "created_by": "u", "updated_at": at, "seen_by": [],
                }, publish=True)
    setup = time.perf_counter() - started
    out = [f"  case types: {source}; {n_cases} open cases and 300 users written in {setup:.1f} s"]
    try:
        for label in ("first scan (writes the alerts)", "second scan (all already written)"):
            started = time.perf_counter()
            stats = scan_deadlines(svc, today, force=True)
            elapsed = time.perf_counter() - started
            out.append(f"  {label}: {elapsed:.2f} s for {stats['cases']} cases = "
                       f"{stats['cases'] / elapsed:,.0f} cases/s; {stats['reminders']} reminders, "
                       f"{stats['escalations']} escalations written, {stats['already']} already there")
    finally:
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="caseflow-bench-push-"))
    try:
        print(f"caseflow bench.push  python {platform.python_version()}  {platform.machine()}  "
              f"{os.cpu_count()} CPUs  data in {root}")
        print(f"Web Push delivery: {args.subs} subscriptions, worker concurrency {args.concurrency}, "
              "loopback push service in another process")
        for line in bench_delivery(root, args.subs, args.concurrency):
            print(line)
        print(f"Deadline scan: {args.cases} open cases")
        for line in bench_scan(root, args.cases):
            print(line)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
