"""The pull feed: every change the caller may see, in order, never missed, never repeated.

The store keeps, for each published document, only its latest write at its change seq, so a pull
from a cursor returns each changed entity once at its latest version; units of work commit one at
a time with rising seqs, so nothing can appear later below a cursor already handed out. The
cursor is opaque and signed: ``{store id, seq, definitions hash}``. A cursor the server cannot
honour (forged, another store, ahead of this store after a restore) gets 410 ``cursor-reset``: the
client wipes its replica and pulls from the empty cursor. An entity the caller could see before
and no longer can (access removed, reassigned) comes as a tombstone; a case's tombstone brings
those of its forms and open conflicts with it (they did not change, so nothing else would).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections import OrderedDict
from typing import Any

from store import Store
from sync import access, lookups
from sync.actor import Actor
from sync.audits import audit_read
from sync.context import ALERTS, CASES, CONFLICTS, SUBMISSIONS
from sync.links import links_view
from sync.problems import Problem
from sync.views import Reader, alert_visible, conflict_view

MAX_LIMIT = 500
CASE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
AUDIENCE_FIELDS = ("case_id", "partnership", "involved_agencies", "referring_agency", "assigned_reviewers",
                   "invited_partnerships", "seen_by")  # everything sync.access reads of a case
AUDIENCE_CACHE = 200_000  # cases; a few hundred bytes each
FEED_ENTITIES = {CASES: "case", SUBMISSIONS: "submission", CONFLICTS: "conflict", ALERTS: "alert",
                 lookups.AGENCIES: "agency", lookups.DIRECTORY: "user"}
SCAN_BATCH = 500


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Feed:
    def __init__(self, store: Store, reader: Reader, secret: str):
        self.store = store
        self.reader = reader
        self._key = hashlib.sha256(b"caseflow-cursor:" + secret.encode()).digest()
        self._audiences: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()
        self._audience_lock = threading.Lock()
        self.definitions = self._definitions()
        # over the content, not only ids and versions: a definition edited in place is sent again
        self.definitions_hash = hashlib.sha256(
            json.dumps(self.definitions, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def _definitions(self) -> list[dict[str, Any]]:
        out = []
        forms = self.reader.forms
        for info in forms.forms():
            for v in info.versions:
                out.append({"entity": "form", "id": f"{info.form_id}@{v.version}", "version": v.version,
                            "data": forms.public_document(info.form_id, v.version)})
        # every version: a device holding a case opened under an older one still needs its definition
        for ct in self.reader.case_types.all():
            out.append({"entity": "case_type", "id": f"{ct.case_type}@{ct.version}", "version": ct.version,
                        "data": ct.describe()})
        return out

    # -- cursors ---------------------------------------------------------------------------------
    def encode_cursor(self, seq: int) -> str:
        body = _b64(json.dumps({"s": self.store.store_id, "q": seq, "d": self.definitions_hash}).encode())
        mac = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])
        return f"{body}.{mac}"

    def decode_cursor(self, cursor: str | None) -> tuple[int, bool]:
        """(seq, definitions already sent)."""
        if not cursor:
            return 0, False
        try:
            body, mac = cursor.split(".", 1)
            good = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])
            if not hmac.compare_digest(mac, good):
                raise ValueError("bad signature")
            data = json.loads(_unb64(body))
            seq, store_id, defs = int(data["q"]), data["s"], data["d"]
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            raise reset("This cursor was not issued by this server.") from None
        if store_id != self.store.store_id or seq > self.store.last_seq() or seq < 0:
            raise reset("This cursor belongs to another copy of the data (for example before a restore).")
        return seq, defs == self.definitions_hash

    # -- pull ------------------------------------------------------------------------------------
    def pull(self, actor: Actor, cursor: str | None, limit: int) -> dict[str, Any]:
        page = self._page(actor, cursor, limit)
        self._audit_delivery(actor, page["changes"])
        return page

    def _audit_delivery(self, actor: Actor, changes: list[dict[str, Any]]) -> None:
        """A pull hands over case records as surely as ``GET /cases/{id}`` does, so it is audited the
        same way: one entry per case delivered (ids only), durable before the page leaves."""
        delivered: dict[str, list[str]] = {}
        for change in changes:
            if change.get("deleted") or change["entity"] not in ("case", "submission", "conflict"):
                continue
            case_id = change["id"] if change["entity"] == "case" else change["data"]["case_id"]
            delivered.setdefault(case_id, []).append(f"{change['entity']}:{change['id']}@{change['version']}")
        if not delivered:
            return
        with self.store.transaction() as uow:
            for case_id, entities in delivered.items():
                audit_read(uow, actor, case_id, "sync.read", entities=entities)

    def _page(self, actor: Actor, cursor: str | None, limit: int) -> dict[str, Any]:
        after, defs_sent = self.decode_cursor(cursor)
        changes: list[dict[str, Any]] = [] if defs_sent else list(self.definitions)
        mine = access.principals(actor)
        cases: dict[str, Any] = {}  # a case's forms and alerts sit near it in the feed: read it once a page
        keep = self._keeper(actor, mine, cases)
        last = after
        while True:
            # read about as many documents as the page still needs; skipped ones are never parsed
            batch, scanned = self.store.scan_changes(last, min(SCAN_BATCH, max(64, limit - len(changes) + 1)), keep)
            if scanned == last:
                return {"changes": _latest_only(changes), "cursor": self.encode_cursor(last), "has_more": False}
            for doc in batch:
                found = self._changes_for(actor, mine, doc, cases)
                if found:
                    # a document's changes go on one page (the cursor moves per document; what was
                    # skipped before it is skipped again on the next pull)
                    if changes and len(changes) + len(found) > limit:
                        return {"changes": _latest_only(changes), "cursor": self.encode_cursor(last),
                                "has_more": True}
                    changes.extend(found)
                last = doc.seq
            last = scanned

    def audience(self, case_id: str) -> dict[str, Any] | None:
        """The fields of a case that decide who sees it and its forms (``AUDIENCE_FIELDS``), from a
        cache checked against the case's current version: most feed entries belong to cases the
        reader cannot see, and parsing each of those cases again on every pull is the cost of a pull."""
        version = self.store.version_of(CASES, case_id)
        if version is None:
            return None
        with self._audience_lock:
            hit = self._audiences.get(case_id)
            if hit is not None and hit[0] == version:
                self._audiences.move_to_end(case_id)
                return hit[1]
        doc = self.store.get(CASES, case_id)
        if doc is None:
            return None
        return self._remember(doc)

    def _remember(self, doc: Any) -> dict[str, Any]:
        aud = {k: doc.data[k] for k in AUDIENCE_FIELDS if k in doc.data}
        with self._audience_lock:
            hit = self._audiences.get(doc.id)
            if hit is None or hit[0] <= doc.version:
                self._audiences[doc.id] = (doc.version, aud)
                self._audiences.move_to_end(doc.id)
                while len(self._audiences) > AUDIENCE_CACHE:
                    self._audiences.popitem(last=False)
        return aud

    def _keeper(self, actor: Actor, mine: set[str], cases: dict[str, Any]):
        """Decide from a feed entry's key alone whether it can concern this actor: a submission's or
        alert's id begins with its case id, so what belongs to a case the actor never could see is
        skipped unread."""
        relevant: dict[str, bool] = {}

        def case_relevant(case_id: str) -> bool:
            if case_id not in relevant:
                aud = cases[case_id] if case_id in cases else cases.setdefault(case_id, self.audience(case_id))
                relevant[case_id] = aud is not None and (
                    access.can_see_case(actor, aud) or bool(mine & set(aud.get("seen_by") or ())))
            return relevant[case_id]

        def keep(collection: str, doc_id: str, deleted: bool) -> bool:
            if deleted or collection not in FEED_ENTITIES:
                return False
            if collection == CASES:
                return case_relevant(doc_id)
            if collection == SUBMISSIONS:
                return case_relevant(doc_id.split(".", 1)[0])
            if collection == ALERTS:  # "{case_id}.{n}" or, for deadline reminders, "dl.{case_id}.…"
                parts = doc_id.split(".", 2)
                case_id = parts[1] if parts[0] == "dl" and len(parts) > 1 else parts[0]
                return case_relevant(case_id) if CASE_ID.match(case_id) else True
            return True

        return keep

    def _changes_for(self, actor: Actor, mine: set[str], doc: Any,
                     cases: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        change = self._change_for(actor, mine, doc, {} if cases is None else cases)
        if change is None:
            return []
        if doc.collection == CASES and change.get("deleted"):
            return [change, *self._dependent_tombstones(actor, doc.data)]
        return [change]

    def _dependent_tombstones(self, actor: Actor, case: dict[str, Any]) -> list[dict[str, Any]]:
        """Losing a case loses its forms and open conflicts too: they are not changed, so without
        these tombstones the device would keep them. Only what this actor could have seen."""
        # the same rule as a single entity's tombstone: an invited partnership never saw a return
        def could_see(meta: dict[str, Any]) -> bool:
            return access.could_ever_see_submission(actor, case, meta)

        out = []
        for sub_id, meta in case.get("submissions", {}).items():
            if not could_see(meta):
                continue
            sub = self.store.get(SUBMISSIONS, sub_id)
            if sub is None:
                continue
            out.append({"entity": "submission", "id": sub.id, "version": sub.version, "deleted": True})
        # every conflict of the case, resolved ones too: each holds two people's values
        for c in self.store.scan(CONFLICTS, where=lambda d: d.get("case_id") == case["case_id"]):
            if could_see({"agency_id": c.data.get("agency_id")}):
                out.append({"entity": "conflict", "id": c.id, "version": c.version, "deleted": True})
        return out

    def _change_for(self, actor: Actor, mine: set[str], doc: Any, cases: dict[str, Any]) -> dict[str, Any] | None:
        entity = FEED_ENTITIES.get(doc.collection)
        if entity is None or doc.deleted:
            return None
        tombstone = {"entity": entity, "id": doc.id, "version": doc.version, "deleted": True}
        if entity == "alert":
            return self._full(entity, doc, doc.data) if alert_visible(actor, doc.data) else None
        if entity in ("agency", "user"):  # pickers' look-ups (sync.lookups)
            return lookups.feed_change(actor, doc.collection, doc)
        if entity == "case":
            case = doc.data
            cases[doc.id] = self._remember(doc)
        else:
            case_id = doc.data["case_id"]
            case = cases[case_id] if case_id in cases else cases.setdefault(case_id, self.audience(case_id))
        if case is None:
            return None
        could_see = bool(mine & set(case.get("seen_by") or ()))
        if entity == "case":
            if access.can_see_case(actor, case):
                return self._full(entity, doc, self.reader.case_summary(actor, doc) | {
                    "involved_agencies": case["involved_agencies"], "pending": case.get("pending"),
                    "tasks": case.get("tasks") or {},
                    "links": links_view(actor, case, self.audience),
                    "state_history": [{k: h[k] for k in ("state", "entered_at", "event")}
                                      for h in case["state_history"]]})
            return tombstone if could_see else None
        sub_meta = doc.data if entity == "submission" else {"agency_id": doc.data.get("agency_id")}
        if access.can_see_submission(actor, case, sub_meta):
            view = Reader.submission_view(doc) if entity == "submission" else conflict_view(doc)
            return self._full(entity, doc, {**view, "case_id": case["case_id"]})
        # another agency's return was never this actor's to see: not even its id is sent
        return tombstone if could_see and access.could_ever_see_submission(actor, case, sub_meta) else None

    @staticmethod
    def _full(entity: str, doc: Any, data: dict[str, Any]) -> dict[str, Any]:
        return {"entity": entity, "id": doc.id, "version": doc.version, "data": data}


def _latest_only(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per entity on a page. The page is read in several scans without holding the store,
    so a document rewritten by another writer between two scans moves to a later seq and is met
    again; its later entry is its newer version and wins, in its later place."""
    last_at = {(c["entity"], c["id"]): i for i, c in enumerate(changes)}
    if len(last_at) == len(changes):
        return changes
    return [c for i, c in enumerate(changes) if last_at[(c["entity"], c["id"])] == i]


def reset(detail: str) -> Problem:
    return Problem(410, "cursor-reset", detail + " Delete the local copy and pull again from the empty cursor.",
                   title="Resynchronise from empty", action="resync_from_empty")
