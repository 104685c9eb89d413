"""Shared pieces of the sync fault tests: an in-process server on loopback, devices built on the
reference client, and the exactly-once / nothing-lost checks read straight from the server's store."""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from forms.registry import FormRegistry
from store import open_store
from sync.client import Http, RetryPolicy, SyncClient, Unavailable
from sync.context import CONFLICTS, REVISIONS, SUBMISSIONS
from sync.service import MUTATION_LOG
from tests.support import DEMO_PASSWORD, InProcessApp

FORM = "crg_referral"
#: Free-text fields of the referral that devices edit (JSON Pointers into the form data).
FIELDS = ("/incident_summary", "/reason_for_referral", "/harm_details", "/child/area_of_normal_residence")
APPLIED = ("applied", "conflict")
#: The devices of the kill tests: everyone syncs, the creators also open cases and edit forms.
USERS = ("esx.business", "esx.crg", "esx.school-dsl", "esx.health-dsl")
CREATORS = ("esx.business", "esx.school-dsl", "esx.health-dsl")


def form_version() -> int:
    return FormRegistry.load_default().get(FORM).version


def referral_data(agencies=("esx-schools", "uh-sussex")) -> dict:
    data = copy.deepcopy(FormRegistry.load_default().get(FORM).examples["valid"][0])
    data["involved_agencies"] = list(agencies)
    data["referrer"]["agency_id"] = "esx-schools"
    data["referrer"]["agency_sector"] = "education"
    return data


def get_ptr(data: Any, pointer: str) -> Any:
    for part in pointer.split("/")[1:]:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def set_ptr(data: dict, pointer: str, value: Any) -> None:
    parts = pointer.split("/")[1:]
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


class InProcessServer(InProcessApp):
    """The real app, in this process, on real time, served over real loopback HTTP."""

    def __init__(self, data_dir: Path, **settings):
        super().__init__(data_dir, **settings)


def device(state: Path, url: str, username: str, *, attempts: int = 6, timeout: float = 10.0, seed: int = 0,
           login: bool = True) -> SyncClient:
    """A device on the reference client with fast backoff (tests do not wait seconds)."""
    http = Http(url, timeout=timeout, retry=RetryPolicy(attempts=attempts, base=0.002, cap=0.05,
                                                        rng=random.Random(seed)))
    client = SyncClient(state, http=http)
    if login:
        client.login(username, DEMO_PASSWORD)
    return client


class Fleet:
    """The four demo devices of the kill tests, with what they typed and what the server answered."""

    def __init__(self, tmp_path: Path, url: str, rng: random.Random):
        # the retry budget (400 fast attempts) outlasts a server restart, and a device that
        # exhausts it starts its sync over: the clients never give up
        self.rng = rng
        self.devices = {u: device(tmp_path / f"{u}.db", url, u, attempts=400, timeout=5, seed=rng.randrange(1 << 30))
                        for u in USERS}
        self.cases: list[str] = []
        self.written: dict[str, dict[str, Any]] = {}  # mutation id -> {pointer: value typed}
        self.acked: dict[str, dict[str, Any]] = {}  # mutation id -> the first answer the device got
        self.answered: dict[str, str] = {}  # "device:seq" -> the outcome a device was told (for per-kill checks)
        self.stop = threading.Event()  # set when the test ends (or fails): the syncing threads give up
        self._values = iter(range(10**9))
        self._version = form_version()

    @property
    def clients(self) -> list[SyncClient]:
        return list(self.devices.values())

    @property
    def retries(self) -> int:
        return sum(d.http.retries for d in self.clients)

    def queue_offline_work(self) -> None:
        """One round of offline work on every device: the creators open cases and type into the
        referrals they hold (``written`` records what each mutation typed), the business team and
        the CRG move cases on from the state they last saw (so some transitions go stale)."""
        rng, version = self.rng, self._version
        for who in CREATORS:
            d = self.devices[who]
            for _ in range(rng.randint(1, 2)):
                self.cases.append(d.create_case("serious_incident", FORM, version, referral_data()).case_id)
            known = [c for c in self.cases if d.local_submission(c, FORM) is not None]
            for case_id in rng.sample(known, min(len(known), 3)):
                form = d.local_submission(case_id, FORM)
                typed = {p: f"{who} {next(self._values)}" for p in rng.sample(FIELDS, 2)}
                for p, v in typed.items():
                    set_ptr(form, p, v)
                self.written[d.save_submission(case_id, FORM, version, form, "final").mutation_id] = typed
        for who in ("esx.business", "esx.crg"):
            d = self.devices[who]
            for case_id in rng.sample(self.cases, min(len(self.cases), 2)):
                known = d.local.entity("case", case_id)
                if known:
                    d.transition(case_id, rng.choice(["put_to_crg", "escalate_to_statutory_leads"]), known[1]["state"])

    def start_syncing(self) -> tuple[list[threading.Thread], list[BaseException]]:
        """Everyone syncs at once, a thread each: push then pull, the whole sync again whenever the
        server stays unreachable past the retry budget. ``acked`` keeps the first answer to each
        mutation; the list collects anything else raised (the caller asserts it empty after joining)."""
        errors: list[BaseException] = []

        def work(d: SyncClient) -> None:
            try:
                while not self.stop.is_set():
                    try:
                        for r in d.push():
                            self.acked.setdefault(r["mutation_id"], r)
                            if r["status"] != "pending":
                                self.answered[f"{d.device_id}:{r['seq']}"] = effective(r)
                        d.pull()
                        return
                    except Unavailable:
                        continue
            except BaseException as exc:  # noqa: BLE001 - reported by the caller
                errors.append(exc)

        # daemons: a test that fails mid-round must not hang on devices that retry forever
        threads = [threading.Thread(target=work, args=(d,), daemon=True) for d in self.clients]
        for t in threads:
            t.start()
        return threads, errors

    def converge(self, attempts: int = 5) -> None:
        """A clean sync round after the faults; every device then holds the server's view.

        The server goes on writing after the last answer: its push worker moves each new alert on
        (pending -> queued) in the background, so a device that pulled just before sees that on its
        next pull. A few rounds a second apart let it settle; a change the feed never delivers
        (a skipped seq) stays missing from every later pull and still fails here."""
        for attempt in range(attempts):
            settle(self.clients)
            try:
                check_converged(self.clients)
                return
            except AssertionError:
                if attempt == attempts - 1:
                    raise
                time.sleep(1.0)

    def check_store(self, data_dir: Path, target: str | None = None) -> dict[str, int]:
        """With the server down: the store (``data_dir``'s, or ``target``: a PostgreSQL URL) verifies and
        every mutation was applied exactly once."""
        store = open_store(target or data_dir / "store")
        try:
            assert store.verify() == []
            return check_exactly_once(store, self.clients, self.written, self.acked)
        finally:
            store.close()


def settle(clients: list[SyncClient], rounds: int = 3) -> None:
    """A clean sync round: everyone pushes, then everyone pulls (twice over, so that each device
    sees what the others pushed), until no outbox holds anything."""
    for _ in range(rounds):
        for c in clients:
            c.push()
        for c in clients:
            c.pull()
    assert all(not c.local.outbox() for c in clients), [len(c.local.outbox()) for c in clients]


def server_view(client: SyncClient) -> dict[tuple[str, str], int]:
    """What the server shows this device now, pulled from the empty cursor without touching its file."""
    seen: dict[tuple[str, str], int] = {}
    cursor = ""
    while True:
        r = client._authed("GET", "/api/v1/sync/pull", query={"cursor": cursor, "limit": 500})
        assert r.status == 200, r.body
        for c in r.body["changes"]:
            if c.get("deleted"):
                seen.pop((c["entity"], c["id"]), None)
            else:
                seen[(c["entity"], c["id"])] = c["version"]
        cursor = r.body["cursor"]
        if not r.body["has_more"]:
            return seen


def check_converged(clients: list[SyncClient]) -> None:
    for c in clients:
        replica = {k: v[0] for k, v in c.local.entities().items()}
        server = server_view(c)
        differ = sorted({k for k in replica.keys() | server.keys() if replica.get(k) != server.get(k)})
        assert not differ, (f"device of {c.user['username']} differs from the server's view on {len(differ)} "
                            f"entities (entity, device's version, server's): "
                            f"{[(k, replica.get(k), server.get(k)) for k in differ[:8]]}")


def effective(result: dict[str, Any]) -> str:
    return result.get("first_status", result["status"]) if result["status"] == "duplicate" else result["status"]


def check_answered(store, answered: dict[str, str]) -> str | None:
    """The first answered mutation (``"device:seq" -> outcome``, as ``Fleet.answered``) that is not in
    the store with the outcome its device was told, described; None when every one is."""
    for key, status in answered.items():
        logged = store.get(MUTATION_LOG, key)
        if logged is None:
            return f"answered mutation {key} ({status}) is not in the store"
        if logged.data["result"]["status"] != status:
            return f"answered mutation {key} was {status}, the store says {logged.data['result']['status']}"
    return None


def check_exactly_once(store, clients: list[SyncClient], written: dict[str, dict[str, Any]] | None = None,
                       acked: dict[str, dict[str, Any]] | None = None) -> dict[str, int]:
    """Every mutation a device queued was logged once under its (device, seq) with the same outcome the
    device recorded; each applied one wrote one audit entry and (for forms) one revision; every value a
    device typed is in the revision its mutation made or in a conflict record; nothing acknowledged is lost.

    ``written``: mutation_id -> {pointer: value} typed by that mutation. ``acked``: mutation_id -> the
    first answer a device received (it must still hold)."""
    stats: Counter[str] = Counter()
    mutations: dict[str, tuple[str, dict[str, Any]]] = {}  # mutation_id -> (kind, server result)
    cases: set[str] = set()
    for c in clients:
        for r in c.local.results():
            logged = store.get(MUTATION_LOG, f"{c.device_id}:{r['seq']}")
            assert logged is not None, ("acknowledged mutation missing on the server", r["mutation_id"])
            assert logged.data["mutation_id"] == r["mutation_id"]
            server = logged.data["result"]
            assert effective(r["result"]) == server["status"], (r["result"], server)
            assert r["status"] != "pending"
            mutations[r["mutation_id"]] = (r["kind"], server)
            stats[server["status"]] += 1
            if server["status"] == "rejected":
                stats[f"rejected:{r['kind']}:{server['problem']['type'].rsplit('/', 1)[-1]}"] += 1
            if r["kind"] == "create_case" and server["status"] == "applied":
                cases.add(server["case_id"])
    for mid, first in (acked or {}).items():
        assert effective(first) == mutations[mid][1]["status"], (first, mutations[mid])
    # one audit entry per applied mutation, none for the others, none twice
    audited: Counter[str] = Counter()
    for case_id in cases:
        for entry in store.audit_log(subject=case_id):
            mid, action = entry.entry.get("mutation_id"), entry.entry.get("action")
            # reads and the trace of an access refusal (a rejected mutation's) change nothing
            if mid in mutations and action not in ("case.read", "access.refused"):
                audited[(mid, action)] += 1
    assert all(n == 1 for n in audited.values()), [k for k, n in audited.items() if n > 1]
    audited_ids = {mid for mid, _ in audited}
    for mid, (kind, result) in mutations.items():
        if result["status"] in APPLIED and kind in ("create_case", "save_submission") or (
                kind == "transition" and "event" in result):
            assert mid in audited_ids, ("applied mutation left no audit entry", kind, mid)
        elif result["status"] == "rejected":
            assert mid not in audited_ids, ("rejected mutation changed something", kind, mid)
    # revisions: one per applied form write, the submission's version counts them, values typed are kept
    by_mutation = {}
    for case_id in cases:
        sub = store.get(SUBMISSIONS, f"{case_id}.{FORM}")
        assert sub is not None
        revs = [store.get(REVISIONS, f"{sub.id}@{v}") for v in range(1, sub.version + 1)]
        assert all(revs), "a revision is missing"
        assert revs[-1].data["data"] == sub.data["data"]
        ids = [r.data["mutation_id"] for r in revs if r.data["mutation_id"] in mutations]
        assert len(ids) == len(set(ids)), "a mutation wrote two revisions"
        by_mutation.update({r.data["mutation_id"]: r for r in revs})
        stats["revisions"] += len(revs)
        if written is not None:
            stats["own_edits_superseded"] += check_changes_only_what_was_typed(revs, written)
    conflicts = {}
    for doc in store.scan(CONFLICTS):
        if doc.data["incoming_mutation"] in mutations:
            conflicts[(doc.data["incoming_mutation"], doc.data["path"])] = doc.data
            check_not_a_self_conflict(store, doc.data, by_mutation[doc.data["incoming_mutation"]].data["revision"])
    stats["conflicts"] = len(conflicts)
    for mid, (kind, result) in mutations.items():
        if kind == "save_submission" and result["status"] in APPLIED:
            assert mid in by_mutation, ("applied form write has no revision", mid)
            rev = by_mutation[mid]
            for pointer, value in (written or {}).get(mid, {}).items():
                kept = get_ptr(rev.data["data"], pointer) == value
                recorded = (mid, pointer) in conflicts and conflicts[(mid, pointer)]["incoming"] == value
                assert kept or recorded, ("a typed value was lost", pointer)
                stats["values_kept" if kept else "values_in_conflicts"] += 1
    return dict(stats)


def _without_fields(data: dict) -> dict:
    out = copy.deepcopy(data)
    for pointer in FIELDS:
        set_ptr(out, pointer, None)
    return out


def check_changes_only_what_was_typed(revs: list, written: dict[str, dict[str, Any]]) -> int:
    """A form write changes only the fields its device typed: an edit queued from a stale base never
    reverts a value (not even the device's own earlier one) that it did not type over. Answers how
    many writes replaced a value the same device had typed before (the same-device rule at work)."""
    superseded = 0
    last_writer = dict.fromkeys(FIELDS, revs[0].data["device_id"])
    for prev, cur in zip(revs, revs[1:], strict=False):
        typed = written.get(cur.data["mutation_id"])
        if typed is None:
            continue  # not a save_submission of these devices (create_case is revision 1)
        for pointer in FIELDS:
            before, after = get_ptr(prev.data["data"], pointer), get_ptr(cur.data["data"], pointer)
            if before != after:
                assert pointer in typed and after == typed[pointer], ("an untyped field changed", pointer)
                superseded += last_writer[pointer] == cur.data["device_id"]
                last_writer[pointer] = cur.data["device_id"]
        assert _without_fields(prev.data["data"]) == _without_fields(cur.data["data"]), "an untouched field changed"
    return superseded


def check_not_a_self_conflict(store, conflict: dict[str, Any], revision: int) -> None:
    """The value a conflict kept was not last written (since its base) by the incoming device itself:
    a device never conflicts with its own edits."""
    sub_id, pointer = conflict["submission_id"], conflict["path"]
    last_writer = None
    for v in range(conflict["base_version"] + 1, revision):
        prev, cur = store.get(REVISIONS, f"{sub_id}@{v - 1}"), store.get(REVISIONS, f"{sub_id}@{v}")
        if get_ptr(prev.data["data"], pointer) != get_ptr(cur.data["data"], pointer):
            last_writer = (cur.data["device_id"], cur.data["by"])
    assert last_writer != (conflict["incoming_device"], conflict["incoming_by"]), ("a self-conflict", pointer)
