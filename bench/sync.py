"""Benchmark: sync push (durable acknowledgement) and pull over real loopback HTTP.

    .venv/bin/python -m bench.sync [--quick] [--sizes 1000 100000] [--devices 1 4 16] [--batches 1 10 50]
                                   [--dir D] [--profile]

1. **Prefill** (per size, before the server starts): the demo fixture, then six template cases
   built through the real write path (``WritePath.apply_batch``: a case in ``referred``, one in
   ``sin_consideration`` and one in ``rapid_review``, each with two sets of involved agencies),
   then cloned with new ids and references straight into the store in units of 2,000 cases, until
   the store holds the asked number of documents. Checkpointed, closed, ``os.sync()``; then one
   warm-up start of the server (its push worker walks the prefilled feed once, the deadline
   scheduler scans every case), as if it had been running.
2. **Push**: for each (devices, batch) a fresh copy of the prefilled data directory and a real
   ``caseflow serve --demo`` subprocess (waitress). Each device is a demo user logged in on its
   own device id, in its own client thread with a keep-alive connection, pushing its batches back
   to back. About 95% of the mutations are ``save_submission`` drafts (agency returns by the
   agencies' leads and practitioners, SIN decisions by the CRG and the Head of Safeguarding, delay
   notices by the business team), with ``base_version`` as a client would send it; the rest are
   transitions (``put_to_crg`` by the business team, ``escalate_to_statutory_leads`` by the CRG).
   Every push is answered only after its unit of work is fdatasync'd (``store.transaction()``
   commits the journal record with fdatasync before ``apply_batch`` returns). Every result is
   checked (``applied`` expected).
3. **Pull**: on a fresh copy, pages of 100 changes from the empty cursor to the end (or at most
   ``--pull-pages``), for an agency lead who sees a quarter of the cases (first, on a cold server),
   a user who sees every case (business team), and the agency lead again (the feed's per-case
   audience cache now warm); the first page (which carries the form and case-type definitions) is
   timed apart.
4. **Yardstick**: raw append of a ~1 KB record + fdatasync in the same directory, sampled before
   every configuration, in the same run.

Prints mutations/s, per-mutation cost (wall time / mutations), push p50/p95, the 100k/1k ratio of
the per-mutation cost, pull pages/s and page p50/p95. Never asserts on a timing.
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

PASSWORD = "bench-demo-password"
VARIANTS = (  # involved agencies of the cloned cases: a quarter involve the police
    ("esx-schools", "uh-sussex", "sussex-police", "esx-childrens-services"),
    ("esx-schools", "uh-sussex", "esx-childrens-services"),
    ("esx-schools", "uh-sussex", "esx-childrens-services"),
    ("esx-schools", "uh-sussex", "esx-childrens-services"),
)
STATES = ("referred", "sin_consideration", "rapid_review")
# device i is a login of USERS[i % len(USERS)] on its own device id
USERS = ("esx.business", "esx.school-dsl", "esx.crg", "esx.health-dsl", "esx.social-worker", "esx.hos",
         "esx.health-visitor", "esx.business")
AGENCY_USERS = {"esx.school-dsl", "esx.health-dsl", "esx.social-worker", "esx.health-visitor"}
SIN_USERS = {"esx.crg", "esx.hos"}


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


# -- prefill ------------------------------------------------------------------------------------
def _templates(store, clock) -> tuple[list[tuple[str, str, int]], dict[str, Any]]:
    """Build one case per (state, variant) through the real write path; returns (case_id, state, variant)."""
    from forms.registry import FormRegistry
    from server.app import load_case_types
    from server.auth.accounts import Accounts
    from server.demo import load_demo
    from sync.service import Mutation, WritePath

    accounts = Accounts(store, clock)
    load_demo(accounts, PASSWORD)
    forms = FormRegistry.load_default()
    wp = WritePath(store, forms, load_case_types(), clock)
    seqs: dict[str, int] = {}

    def actor(username):
        return accounts.actor_for(accounts.user_by_username(username), device_id=f"prefill-{username}")

    def run(username, kind, case_id, payload):
        a = actor(username)
        seqs[username] = seqs.get(username, 0) + 1
        m = Mutation(str(uuid.uuid4()), kind, case_id, payload, seqs[username])
        (result,) = wp.apply_batch(a, a.device_id, [m])
        assert result["status"] == "applied", result
        return result

    referral = copy.deepcopy(forms.get("crg_referral").examples["valid"][0])
    sin = copy.deepcopy(forms.get("sin_decision").examples["valid"][0])
    sin["decision_date"] = sin["notified_on"] = clock.today().isoformat()
    out = []
    for state in STATES:
        for v, agencies in enumerate(VARIANTS[:2]):
            case_id = str(uuid.uuid4())
            data = {**referral, "involved_agencies": list(agencies),
                    "la_aware_date": clock.today().isoformat(),
                    "referrer": {**referral["referrer"], "agency_id": "esx-schools"}}
            run("esx.school-dsl", "create_case", case_id, {"case_type": "serious_incident", "referral": {
                "form_id": "crg_referral", "form_version": forms.get("crg_referral").version, "data": data}})
            if state != "referred":
                run("esx.business", "transition", case_id, {"event": "put_to_crg", "expected_state": "referred"})
            if state == "rapid_review":
                run("esx.hos", "save_submission", case_id, {"form_id": "sin_decision", "form_version": 1,
                                                             "data": sin, "status": "final"})
                run("esx.hos", "transition", case_id, {"event": "notify_panel",
                                                        "expected_state": "sin_consideration"})
            out.append((case_id, state, v))
    return out, {"forms": forms}


def _template_docs(store, case_id: str) -> tuple[list[tuple[str, str, str]], list[tuple[dict, str]]]:
    """Every published or stored document of one case (as JSON text) and its audit entries."""
    docs = []
    for coll in ("cases", "submissions", "revisions", "alerts"):
        for d in store.scan(coll):
            if d.id.startswith(case_id) or d.data.get("case_id") == case_id:
                docs.append((coll, d.id, json.dumps(d.data)))
    audits = [(e.entry, e.subject) for e in store.audit_log(case_id)]
    return docs, audits


def prefill(path: Path, target_docs: int, rng: random.Random) -> dict[str, Any]:
    """The demo fixture + cloned cases until the store holds ``target_docs`` documents."""
    from store import open_store
    from sync.clock import Clock

    started = time.perf_counter()
    clock = Clock()
    store = open_store(path / "store")
    templates, _ = _templates(store, clock)
    year = clock.today().year
    shapes = []
    for case_id, state, v in templates:
        docs, audits = _template_docs(store, case_id)
        ref = json.loads(next(t for c, _, t in docs if c == "cases"))["reference"]
        shapes.append((case_id, state, v, ref, docs, audits))
    pools: dict[str, list[str]] = {s: [] for s in STATES}
    police: set[str] = set()
    for case_id, state, v, *_ in shapes:
        pools[state].append(case_id)
        if v == 0:
            police.add(case_id)
    per_case = sum(len(s[4]) for s in shapes) / len(shapes)
    n_cases = max(0, int((target_docs - store.stats()["documents"]) / per_case))
    n = len(shapes)
    unit = 2000
    for start in range(0, n_cases, unit):
        with store.transaction() as uow:
            for i in range(start, min(n_cases, start + unit)):
                variant = rng.randrange(len(VARIANTS))
                state = STATES[i % len(STATES)]
                tid, _, _, ref, docs, audits = next(s for s in shapes if s[1] == state and s[2] == min(variant, 1))
                new_id = str(uuid.uuid4())
                n += 1
                new_ref = f"ESX-{year}-{n:05d}"
                for coll, did, text in docs:
                    new_did = did.replace(tid, new_id)
                    if coll == "alerts":  # the write path's form: the case id, then a fresh part
                        new_did = f"{new_id}.{uuid.uuid4().hex}"
                    data = json.loads(text.replace(tid, new_id).replace(ref, new_ref))
                    if coll == "alerts":
                        data["alert_id"] = new_did
                    uow.insert(coll, new_did, data, publish=coll != "revisions")
                for entry, _subject in audits:
                    uow.audit(json.loads(json.dumps(entry).replace(tid, new_id)), subject=new_id)
                pools[state].append(new_id)
                if variant == 0:
                    police.add(new_id)
        # the next reference the write path hands out must follow the clones
    with store.transaction() as uow:
        key = f"east-sussex.{year}"
        counter = uow.get("case_references", key)
        uow.update("case_references", key, {"next": n + 1}, expected_version=counter.version)
    store.checkpoint()
    stats = store.stats()
    store.close()
    os.sync()
    return {"docs": stats["documents"], "cases": n, "pools": pools, "police": police,
            "seconds": time.perf_counter() - started, "audit": stats["audit_entries"],
            "per_case": per_case}


# -- the push workload ----------------------------------------------------------------------------
@dataclass
class Device:
    username: str
    device_id: str
    token: str = ""
    bodies: list[bytes] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    transitions: int = 0
    error: str | None = None


def _split(pool: list[str], users: list[int]) -> dict[int, list[str]]:
    """Disjoint slices of a pool, one per device using it (no two devices edit one submission)."""
    return {d: pool[k::len(users)] for k, d in enumerate(users)} if users else {}


def plan(devices: list[Device], pools: dict[str, list[str]], batch: int, pushes: int,
         forms: Any, rng: random.Random) -> None:
    """Pre-encode every device's push bodies: ~95% drafts with the base_version a client would send,
    ~5% transitions on cases reserved to that device (a transition moves a case on for good)."""
    rr_return = copy.deepcopy(forms.get("rapid_review_agency_return").examples["valid"][0])
    sin = copy.deepcopy(forms.get("sin_decision").examples["valid"][0])
    delay = copy.deepcopy(forms.get("delay_notice").examples["valid"][0])
    versions = {f: forms.get(f).version for f in ("rapid_review_agency_return", "sin_decision", "delay_notice")}
    idx = range(len(devices))
    agency = _split(pools["rapid_review"], [i for i in idx if devices[i].username in AGENCY_USERS])
    sin_pool = pools["sin_consideration"]
    sin_drafts = _split(sin_pool[: len(sin_pool) // 2], [i for i in idx if devices[i].username in SIN_USERS])
    escalate = _split(sin_pool[len(sin_pool) // 2:], [i for i in idx if devices[i].username == "esx.crg"])
    business = [i for i in idx if devices[i].username == "esx.business"]
    put = _split(pools["referred"], business)
    delay_cases = _split(pools["rapid_review"] + pools["referred"], business)
    for i, dev in enumerate(devices):
        seq = 0
        base: dict[str, int] = {}  # this device's submissions: the version it last saw
        moves = list(reversed((put if dev.username == "esx.business" else escalate).get(i, [])))
        if dev.username in AGENCY_USERS:
            cases, form, data = agency.get(i, []), "rapid_review_agency_return", rr_return
        elif dev.username in SIN_USERS:
            cases, form, data = sin_drafts.get(i, []), "sin_decision", sin
        else:
            cases, form, data = delay_cases.get(i, []), "delay_notice", delay
        cases = cases[:8]  # a device works on a handful of cases, re-saving its drafts
        for _ in range(pushes):
            mutations = []
            for _ in range(batch):
                seq += 1
                m = {"mutation_id": str(uuid.uuid4()), "seq": seq, "client_time": "2026-11-23T10:00:00Z"}
                if moves and rng.random() < 0.05:
                    case_id = moves.pop()
                    event, state = (("put_to_crg", "referred") if dev.username == "esx.business"
                                    else ("escalate_to_statutory_leads", "sin_consideration"))
                    m.update(kind="transition", case_id=case_id,
                             payload={"event": event, "expected_state": state, "comment": "bench"})
                    dev.transitions += 1
                else:
                    case_id = rng.choice(cases)
                    d = copy.deepcopy(data)
                    if form == "rapid_review_agency_return":
                        d["agency_id"] = _AGENCY[dev.username]
                        d["involvement_summary"] = f"Draft {seq}: " + d["involvement_summary"]
                    elif form == "sin_decision":
                        d["criteria_reasoning"] = f"Draft {seq}: " + d["criteria_reasoning"]
                    else:
                        d["reason"] = f"Draft {seq}: " + d["reason"]
                    key = f"{case_id}.{form}"
                    m.update(kind="save_submission", case_id=case_id, base_version=base.get(key),
                             payload={"form_id": form, "form_version": versions[form], "data": d, "status": "draft"})
                    base[key] = base.get(key, 0) + 1
                mutations.append(m)
            dev.bodies.append(json.dumps({"device_id": dev.device_id, "mutations": mutations}).encode())
            dev.sizes.append(len(mutations))


_AGENCY = {"esx.school-dsl": "esx-schools", "esx.health-dsl": "uh-sussex",
           "esx.social-worker": "esx-childrens-services", "esx.health-visitor": "uh-sussex"}


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
            dev.latencies.append(time.perf_counter() - t)
            if resp.status != 200:
                raise RuntimeError(f"push answered {resp.status}: {raw[:300]!r}")
            for r in json.loads(raw)["results"]:
                dev.statuses[r["status"]] = dev.statuses.get(r["status"], 0) + 1
    except Exception as exc:  # reported in the table, never hidden
        dev.error = repr(exc)
    finally:
        conn.close()


# -- server, push configurations, pull ------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server(data: Path):
    """``caseflow serve --demo`` on a free port, timed from start until it is idle: at start-up it
    verifies the store, the deadline scheduler scans every case and the push worker walks the change
    feed from its cursor; the benchmark measures the steady state after that."""
    from tests.support import LiveServer

    env = {"CASEFLOW_DEMO_PASSWORD": PASSWORD, "CASEFLOW_LOG_LEVEL": os.environ.get("CASEFLOW_LOG_LEVEL", "INFO")}
    t0 = time.perf_counter()
    srv = LiveServer(data, env=env).start(timeout=180)
    srv.ready_s = time.perf_counter() - t0
    busy = _cpu_seconds(srv.proc.pid)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # idle: under 5% of a core over half a second
        time.sleep(0.5)
        now = _cpu_seconds(srv.proc.pid)
        if now - busy < 0.025:
            break
        busy = now
    srv.idle_s = time.perf_counter() - t0
    return srv


def _fresh_copy(pristine: Path, root: Path, name: str) -> Path:
    dst = root / name
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(pristine, dst)
    return dst


def run_push(pristine: Path, root: Path, info: dict, n_devices: int, batch: int, mutations: int,
             forms: Any, rng: random.Random) -> dict[str, Any]:
    data = _fresh_copy(pristine, root, "run")
    yard = Yardstick(str(data))
    raw = [yard.once() for _ in range(100)]
    yard.close()
    devices = [Device(USERS[i % len(USERS)], f"bench-{i:02d}-{uuid.uuid4().hex[:8]}") for i in range(n_devices)]
    pushes = max(1, round(mutations / (batch * n_devices)))
    plan(devices, info["pools"], batch, pushes, forms, rng)
    srv = _server(data)
    try:
        for dev in devices:
            _login(srv.port, dev)
        start = threading.Barrier(n_devices + 1)
        threads = [threading.Thread(target=_device_loop, args=(srv.port, d, start), daemon=True) for d in devices]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        srv.stop()
        shutil.rmtree(data, ignore_errors=True)
    lat = [x for d in devices for x in d.latencies]
    statuses: dict[str, int] = {}
    for d in devices:
        for k, v in d.statuses.items():
            statuses[k] = statuses.get(k, 0) + v
    done = sum(statuses.values())
    return {"devices": n_devices, "batch": batch, "pushes": len(lat), "mutations": done, "wall": wall,
            "rate": done / wall if wall else 0.0, "per_mut": wall * 1000 / done if done else float("nan"),
            "p50": _pct(lat, 50) * 1000, "p95": _pct(lat, 95) * 1000, "statuses": statuses,
            "transitions": sum(d.transitions for d in devices),
            "errors": [d.error for d in devices if d.error], "raw": statistics.median(raw) * 1000,
            "raw_p95": _pct(raw, 95) * 1000, "ready": srv.ready_s, "idle": srv.idle_s}


def run_pull(pristine: Path, root: Path, max_pages: int) -> list[dict[str, Any]]:
    data = _fresh_copy(pristine, root, "pull")
    srv = _server(data)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few mutations (development)")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--devices", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--mutations", type=int, default=None,
                    help="mutations per configuration at batch 50 (fewer at smaller batches)")
    ap.add_argument("--pull-pages", type=int, default=300)
    ap.add_argument("--pull-only", action="store_true", help="skip the push configurations")
    ap.add_argument("--dir", default=None, help="parent directory for the temp data (default: system temp)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="cProfile the push and pull paths in-process instead")
    args = ap.parse_args()
    sizes = args.sizes or ([1000, 5000] if args.quick else [1000, 100000])
    at50 = args.mutations or (400 if args.quick else 2400)
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.dir))
    started = time.perf_counter()
    try:
        from forms.registry import FormRegistry

        forms = FormRegistry.load_default()
        if args.profile:
            from bench.sync_profile import profile

            profile(root, sizes[-1], forms, rng)
            return
        print(f"caseflow sync benchmark: python {platform.python_version()}, {platform.system()} "
              f"{platform.machine()}, {os.cpu_count()} cpu, data in {root}")
        print("caseflow serve (waitress, one process) on loopback; every push acknowledged after fdatasync; "
              "a fresh copy of the prefilled store per configuration\n")
        rows, pulls, fills = [], {}, {}
        for size in sizes:
            info = fills[size] = prefill(root / f"pristine-{size}", size, rng)
            print(f"prefill {size}: {info['docs']:,} documents ({info['cases']:,} cases, ~{info['per_case']:.1f} "
                  f"documents each, {info['audit']:,} audit entries) in {info['seconds']:.1f} s", flush=True)
            # one warm-up start, as if the server had been running: its push worker has walked the
            # prefilled feed and its deadline scan has run (the copies start from here)
            srv = _server(root / f"pristine-{size}")
            srv.stop()
            print(f"  first start of caseflow serve on it: up in {srv.ready_s:.1f} s, idle after {srv.idle_s:.1f} s",
                  flush=True)
        # sizes interleaved per configuration, so that a drifting machine load hits both alike
        for n_dev in [] if args.pull_only else args.devices:
            for batch in args.batches:
                mutations = {1: at50 // 8, 10: at50 // 3}.get(batch, at50)
                for size in sizes:
                    r = run_push(root / f"pristine-{size}", root, fills[size], n_dev, batch, mutations, forms, rng)
                    r["size"] = size
                    rows.append(r)
                    print(f"  {size:>7} docs {n_dev:>2} devices batch {batch:>2}: {r['rate']:>7,.0f} mutations/s "
                          f"{r['per_mut']:>6.2f} ms/mutation  push p50 {r['p50']:>7.1f} p95 {r['p95']:>7.1f} ms  "
                          f"{r['statuses']} ({r['transitions']} transitions; server up {r['ready']:.1f} s, "
                          f"idle {r['idle']:.1f} s)"
                          + (f" ERRORS {r['errors']}" if r["errors"] else ""), flush=True)
        for size in sizes:
            pulls[size] = run_pull(root / f"pristine-{size}", root, args.pull_pages)
        _report(rows, pulls, sizes)
        print(f"total {time.perf_counter() - started:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _report(rows: list[dict], pulls: dict, sizes: list[int]) -> None:
    head = (f"\n{'docs':>7} {'dev':>3} {'batch':>5} {'pushes':>6} {'muts':>5} {'mut/s':>7} {'ms/mut':>7} "
            f"{'push p50 ms':>11} {'push p95 ms':>11} {'raw fsync ms':>12} {'not applied':>11}")
    print(head)
    print("-" * len(head))
    for r in rows:
        bad = {k: v for k, v in r["statuses"].items() if k != "applied"}
        print(f"{r['size']:>7} {r['devices']:>3} {r['batch']:>5} {r['pushes']:>6} {r['mutations']:>5} "
              f"{r['rate']:>7,.0f} {r['per_mut']:>7.3f} {r['p50']:>11.1f} {r['p95']:>11.1f} "
              f"{r['raw']:>5.3f}/{r['raw_p95']:<6.3f} {str(bad or '-') if not r['errors'] else 'ERROR':>11}")
    print("(ms/mut = wall time / mutations with all devices pushing at once; raw fsync = append 1 KB + "
          "fdatasync median/p95, same directory, just before the configuration)")
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        pairs = [(x, y) for x in rows if x["size"] == a for y in rows
                 if y["size"] == b and (y["devices"], y["batch"]) == (x["devices"], x["batch"])]
        print(f"\nper-mutation cost {b}/{a} documents: "
              + ", ".join(f"{x['devices']}x{x['batch']}: x{y['per_mut'] / x['per_mut']:.2f}" for x, y in pairs))
    print("\npull, pages of 100 changes from the empty cursor (the first page, with the definitions, apart):")
    for size in sizes:
        for p in pulls.get(size, []):
            print(f"  {size:>7} docs {p['user']:<12} first page {p['first']:>6.1f} ms; then {p['pages']} pages "
                  f"({p['changes']:,} changes): {p['rate']:>6.1f} pages/s, p50 {p['p50']:.1f} ms, "
                  f"p95 {p['p95']:.1f} ms")


if __name__ == "__main__":
    main()
