"""The prefilled data directories of ``bench.sync``: the demo fixture and cloned cases, cached.

``prefill`` builds six template cases through the real write path (``WritePath.apply_batch``: a case
in ``referred``, one in ``sin_consideration`` and one in ``rapid_review``, each with two sets of
involved agencies), then clones them with new ids and references straight into the store in units
of 2,000 cases until it holds the asked number of documents; checkpointed, closed, ``os.sync()``.

``cached_prefill`` keeps the result under ``/tmp/caseflow-bench-cache/<key>`` where the key hashes
this module's source, the store's file formats, the form definitions, the size and the seed, so a rerun skips
the 100k prefill (about 20 s) unless something that shapes the data changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

PASSWORD = "bench-demo-password"
VARIANTS = (  # involved agencies of the cloned cases: a quarter involve the police
    ("esx-schools", "uh-sussex", "sussex-police", "esx-childrens-services"),
    ("esx-schools", "uh-sussex", "esx-childrens-services"),
    ("esx-schools", "uh-sussex", "esx-childrens-services"),
    ("esx-schools", "uh-sussex", "esx-childrens-services"),
)
STATES = ("referred", "sin_consideration", "rapid_review")
CACHE = Path(os.environ.get("CASEFLOW_BENCH_CACHE", "/tmp/caseflow-bench-cache"))
ROOT = Path(__file__).resolve().parent.parent


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


def _cache_key(size: int, seed: int) -> str:
    """Hash of what shapes the prefilled directory's files: this module, the store's file formats
    (journal, audit lines, layout) and the form definitions; not the rest of the store or the write
    path, whose speed is what the benchmark measures."""
    h = hashlib.sha256(f"{size}:{seed}".encode())
    files = [Path(__file__), ROOT / "store" / "journal.py", ROOT / "store" / "audit.py",
             ROOT / "store" / "tinystore" / "layout.py"]
    files += sorted((ROOT / "forms" / "definitions").glob("*.json"))
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cached_prefill(dest: Path, size: int, seed: int, warm: Any = None) -> dict[str, Any]:
    """``prefill`` into ``dest``, copied from the cache when an identical one was built before;
    ``warm(path)`` runs once on a new prefill before it is cached (the server's first start)."""
    key = CACHE / f"{size}-{_cache_key(size, seed)}"
    meta = key / "meta.json"
    if not meta.exists():
        shutil.rmtree(key, ignore_errors=True)
        tmp = CACHE / f"{key.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        info = prefill(tmp / "data", size, random.Random(seed))
        if warm is not None:
            info["warm"] = warm(tmp / "data")
        info = {**info, "pools": info["pools"], "police": sorted(info["police"])}
        (tmp / "meta.json").write_text(json.dumps(info))
        os.replace(tmp, key)
        info["cached"] = False
    else:
        info = json.loads(meta.read_text())
        info["cached"] = True
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(key / "data", dest)
    info["police"] = set(info["police"])
    return info
