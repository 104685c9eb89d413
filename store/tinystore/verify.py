"""``TinyStore.verify()`` and ``check_data_dir``: the full integrity check of the embedded store.

A mixin of ``TinyStore``, plus the function behind ``caseflow store check``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from .. import journal as jr
from ..audit import entry_hash, genesis
from ..base import StoreCorrupt, StoreError
from .chain import Link, check_link, parse, read_segments
from .layout import CHECKPOINT_FILE, has_store, key_hash, read_checkpoint


class VerifyMixin:
    def verify(self) -> list[str]:
        """Full integrity check: checkpoint checksum, every shard file (checksum, placement of each
        document, agreement with memory), the whole audit chain recomputed, the journal re-read,
        and the change feed's invariants. Returns the problems found."""
        self._usable()
        if self._writer == threading.get_ident():
            raise StoreError("verify() inside a transaction of the same thread")
        problems: list[str] = []
        with self._ckpt_lock:
            ck_path = os.path.join(self.path, CHECKPOINT_FILE)
            try:
                ck: dict | None = read_checkpoint(ck_path)
            except StoreCorrupt as exc:
                problems.append(str(exc))
                ck = None
            if ck is not None and (ck["checkpoint"] != self._ckpt_no or ck["store_id"] != self.store_id):
                problems.append(f"{ck_path} is checkpoint {ck['checkpoint']} of store {ck['store_id']}, "
                                f"expected checkpoint {self._ckpt_no} of {self.store_id}")
                ck = None
            with self._write_lock:
                clean = {k: [(key, self._colls[key[0]][key[1]]) for key in m]
                         for k, m in self._members.items() if k not in self._dirty}
                n_audit = len(self._audit_lines)
                head = self._audit_head
                txn, seg_no = self._txn, self._seg_no
            if ck is not None:
                problems += self._verify_shards(ck, clean)
                problems += self._verify_audit(ck, n_audit, head)
                problems += self._verify_journal(ck, txn, seg_no)
        problems += self._verify_feed()
        return problems

    def _verify_shards(self, ck: dict, clean: dict) -> list[str]:
        problems = []
        for info in ck["shards"]:
            key = (info["key"][0], info["key"][1])
            depth, bits = key
            tables: dict = {}
            if info["file"]:
                path = os.path.join(self._sdir, info["file"])
                try:
                    with open(path, "rb") as f:
                        raw = f.read()
                except FileNotFoundError:
                    problems.append(f"shard file {path} is missing")
                    continue
                if hashlib.sha256(raw).hexdigest() != info["sha256"]:
                    problems.append(f"shard file {path} does not match the checksum in {CHECKPOINT_FILE} "
                                    "(modified or damaged)")
                try:
                    tables = json.loads(raw) if raw else {}
                except ValueError as exc:
                    problems.append(f"shard file {path} is not valid JSON: {exc}")
                    continue
            else:
                path = f"(empty shard {key})"
            on_disk = {}
            for coll, docs in tables.items():
                for did, d in docs.items():
                    if key_hash(coll, did) & ((1 << depth) - 1) != bits:
                        problems.append(f"shard file {path}: {coll}/{did} does not belong in this shard")
                    on_disk[(coll, did)] = d
            if key in clean:
                mem = dict(clean[key])
                if set(mem) != set(on_disk):
                    problems.append(f"shard file {path} and memory disagree on which documents exist "
                                    f"({len(on_disk)} on disk, {len(mem)} in memory)")
                for k, d in on_disk.items():
                    r = mem.get(k)
                    if r is None:
                        continue
                    same = (d.get("version") == r.version and d.get("seq") == r.seq
                            and bool(d.get("deleted")) == r.deleted
                            and d.get("data") == (None if r.data is None else json.loads(r.data)))
                    if not same:
                        problems.append(f"shard file {path}: {k[0]}/{k[1]} differs from the committed state")
        return problems

    def _verify_audit(self, ck: dict, n_audit: int, head: str) -> list[str]:
        problems: list[str] = []
        prev = genesis(self.store_id)
        n = 0
        try:
            for seg in read_segments(self.path, ck):
                count = seg.listed["count"]
                if len(seg.lines) < count:
                    problems.append(f"audit segment {seg.file} ends early at byte offset "
                                    f"{seg.end(len(seg.lines))}")
                for pos, raw in seg.lines[:count]:
                    n += 1
                    link = Link(n, f"{seg.file} offset {pos}", parse(raw))
                    problem = check_link(link, prev)
                    if problem:
                        problems.append(f"audit {problem}")
                    if n <= len(self._audit_lines) and raw.decode("utf-8", "replace") != self._audit_lines[n - 1]:
                        problems.append(f"audit entry {n} ({seg.file} offset {pos}) differs from the one committed")
                    prev = link.raw.get("hash", "")
                if len(seg.lines) < count:
                    return problems
        except StoreCorrupt as exc:
            problems.append(str(exc))
            return problems
        if n != ck["audit"]["n"]:
            problems.append(f"audit segments hold {n} entries, {CHECKPOINT_FILE} says {ck['audit']['n']}")
        if prev != ck["audit"]["head"]:
            problems.append(f"audit chain on disk ends with a different hash than {CHECKPOINT_FILE} recorded")
        # entries committed since the checkpoint (in memory, from the journal)
        for i in range(n, n_audit):
            d = json.loads(self._audit_lines[i])
            if d["n"] != i + 1 or d["prev_hash"] != prev:
                problems.append(f"audit entry {i + 1} (not yet checkpointed) does not link to the chain")
            if d["hash"] != entry_hash(d["prev_hash"], d["n"], d["at"], d["subject"], d["entry"]):
                problems.append(f"audit entry {i + 1} (not yet checkpointed): hash does not match its content")
            prev = d["hash"]
        if n_audit >= n and prev != head:
            problems.append("the audit chain head in memory differs from the recomputed chain")
        return problems

    def _verify_journal(self, ck: dict, txn: int, seg_no: int) -> list[str]:
        problems = []
        t = ck["txn"]
        for number in range(ck["journal_start"], seg_no + 1):
            path = os.path.join(self._jdir, jr.segment_name(number))
            try:
                scan = jr.scan_segment(path, last=number == seg_no)
            except FileNotFoundError:
                problems.append(f"journal segment {path} is missing")
                return problems
            except StoreCorrupt as exc:
                problems.append(str(exc))
                return problems
            for off, payload in scan.records:
                try:
                    rt = json.loads(payload)["t"]
                except (ValueError, KeyError, TypeError):
                    problems.append(f"journal segment {path}: record at offset {off} is not a unit of work")
                    return problems
                if rt > txn:
                    break  # committed after this check started
                if rt != t + 1:
                    problems.append(f"journal segment {path}: record at offset {off} is unit {rt}, expected {t + 1}")
                    return problems
                t = rt
        if t != txn:
            problems.append(f"the journal holds units up to {t}, but {txn} were committed")
        return problems

    def _verify_feed(self) -> list[str]:
        problems = []
        with self._state_lock:
            seqs, keys = list(self._feed_seq), list(self._feed_key)
            recs = {(c, d): r for c, docs in self._colls.items() for d, r in docs.items()}
            last = self._last_seq
            live_count = self._live_docs
        if live_count != sum(1 for r in recs.values() if not r.deleted):
            problems.append(f"live document count {live_count} is out of step with the documents held")
        if any(a >= b for a, b in zip(seqs, seqs[1:], strict=False)):
            problems.append("change feed is not strictly ordered by seq")
        live = {}
        for s, k in zip(seqs, keys, strict=True):
            r = recs.get(k)
            if r is not None and r.seq == s:
                if k in live:
                    problems.append(f"change feed lists {k[0]}/{k[1]} twice")
                live[k] = s
        published = {k: r.seq for k, r in recs.items() if r.seq}
        if published != live:
            problems.append(f"change feed index is out of step: {len(published)} published documents, "
                            f"{len(live)} live feed entries")
        seen: dict[int, tuple[str, str]] = {}
        for k, s in published.items():
            if s in seen:
                problems.append(f"seq {s} is used by both {seen[s]} and {k}")
            seen[s] = k
            if s > last:
                problems.append(f"{k[0]}/{k[1]} has seq {s} beyond last_seq {last}")
        for k, r in recs.items():
            if r.version < 1 or (r.deleted != (r.data is None)):
                problems.append(f"{k[0]}/{k[1]} has an invalid state (version {r.version}, deleted {r.deleted})")
        return problems


def check_data_dir(data_dir: str | os.PathLike[str]) -> list[str]:
    """Integrity check of a data directory for ``caseflow store check``: opens the store (which
    recovers a torn journal tail and removes crash leftovers, like any open), runs ``verify()``
    and closes it without checkpointing. Returns the problems found (empty: healthy). A store that
    cannot be opened (``StoreCorrupt``) or does not exist is reported as the list's only entry;
    ``StoreLocked`` propagates (stop the server first)."""
    from .store import TinyStore

    path = os.path.abspath(os.fspath(data_dir))
    if not has_store(path):
        return [f"there is no store in {path}"]
    try:
        store = TinyStore(path, background_checkpoint=False, create=False,
                          checkpoint_bytes=1 << 62, checkpoint_records=1 << 62)
    except StoreCorrupt as exc:
        return [str(exc)]
    try:
        problems = store.verify()
        return problems + [p for p in store.open_problems if p not in problems]
    finally:
        store.close()
