"""Opening a data directory: load the checkpointed files, then replay the journal after them
(docs/store.md, "Recovery"). Crash leftovers are removed and listed in ``recovery_notes``;
anything else that is wrong raises ``StoreCorrupt`` naming the file and offset.

A mixin of ``TinyStore``.
"""

from __future__ import annotations

import contextlib
import os
import uuid

from .. import journal as jr
from ..audit import canonical, genesis
from ..base import StoreCorrupt, StoreError
from ..fastjson import dumps_compact, loads
from ..files import AtomicJSONStorage, atomic_write, fsync_dir, remove_orphan_temps
from .chain import parse, read_segments
from .layout import CHECKPOINT_FILE, FORMAT, encode_checkpoint, read_checkpoint
from .records import Key, Rec, now


class RecoveryMixin:
    def _load(self, create: bool) -> None:
        removed = remove_orphan_temps([self.path, self._jdir, self._sdir, self._adir])
        if removed:
            self.recovery_notes.append(f"removed {len(removed)} temp file(s) left by a crash")
        ck_path = os.path.join(self.path, CHECKPOINT_FILE)
        if not os.path.exists(ck_path):
            leftovers = [d for d in (self._jdir, self._sdir, self._adir) if os.path.isdir(d) and os.listdir(d)]
            if leftovers:
                raise StoreCorrupt(f"{ck_path} is missing but {', '.join(leftovers)} hold data files; "
                                   "refusing to start a new store over them")
            if not create:
                raise StoreError(f"there is no store in {self.path}")
            self._create_new(ck_path)
        ck = read_checkpoint(ck_path)
        self.store_id = ck["store_id"]
        self._ckpt_no = ck["checkpoint"]
        self._ckpt_start = ck["journal_start"]
        try:
            self._load_shards(ck)
            self._load_audit(ck)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StoreCorrupt(f"{ck_path} or the files it lists are malformed: {exc!r}") from None
        self._last_seq = ck["last_seq"]
        self._txn = ck["txn"]
        self._replay_journal(ck)
        self._rebuild_feed()

    def _create_new(self, ck_path: str) -> None:
        for d in (self._jdir, self._sdir, self._adir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self._jdir, jr.segment_name(1)), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.close(fd)
        fsync_dir(self._jdir)
        fsync_dir(self.path)
        store_id = self._new_store_id or uuid.uuid4().hex
        body = {
            "format": FORMAT, "store_id": store_id, "checkpoint": 0, "txn": 0, "last_seq": 0,
            "journal_start": 1, "written_at": now(),
            "audit": {"n": 0, "head": genesis(store_id), "segments": []},
            "shards": [{"key": [0, 0], "file": None, "docs": 0, "sha256": None}],
        }
        atomic_write(ck_path, encode_checkpoint(body))

    def _load_shards(self, ck: dict) -> None:
        listed = set()
        for info in ck["shards"]:
            key = (int(info["key"][0]), int(info["key"][1]))
            members: set[Key] = set()
            if info["file"]:
                listed.add(info["file"])
                path = os.path.join(self._sdir, info["file"])
                if not os.path.exists(path):
                    raise StoreCorrupt(f"shard file {path} listed in {CHECKPOINT_FILE} is missing")
                try:
                    tables = AtomicJSONStorage(path, access_mode="r").read() or {}
                except ValueError as exc:
                    raise StoreCorrupt(f"shard file {path} is not valid JSON: {exc}") from None
                try:
                    for coll, docs in tables.items():
                        c = self._colls.setdefault(coll, {})
                        for did, d in docs.items():
                            deleted = bool(d["deleted"])
                            text = None if deleted else dumps_compact(d["data"])  # parsed from JSON: no NaN
                            if did in c:
                                raise StoreCorrupt(f"shard file {path}: {coll}/{did} is also in another shard")
                            c[did] = Rec(int(d["version"]), int(d["seq"]), deleted, text)
                            if text is not None:
                                self._doc_bytes += len(text)
                                self._live_docs += 1
                            members.add((coll, did))
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise StoreCorrupt(f"shard file {path} holds a malformed document: {exc!r}") from None
                if len(members) != info["docs"]:
                    raise StoreCorrupt(f"shard file {path} holds {len(members)} documents, "
                                       f"{CHECKPOINT_FILE} says {info['docs']}")
            self._members[key] = members
            self._shard_files[key] = info
        depths = [k[0] for k in self._members]
        self._min_depth, self._max_depth = min(depths), max(depths)
        for name in os.listdir(self._sdir):
            if name not in listed:  # written by a checkpoint that did not complete, or superseded
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._sdir, name))

    def _load_audit(self, ck: dict) -> None:
        audit = ck["audit"]
        prev = genesis(self.store_id)
        n = 0
        listed = set()
        for seg in read_segments(self.path, ck):
            listed.add(seg.listed["file"])
            count = seg.listed["count"]
            if len(seg.lines) < count:
                raise StoreCorrupt(f"audit segment {seg.file} ends at byte offset {seg.end(len(seg.lines))}, "
                                   f"before entry {n + len(seg.lines) + 1} ({CHECKPOINT_FILE} says it holds "
                                   f"{count} entries)")
            for pos, raw in seg.lines[:count]:
                d = parse(raw)
                try:
                    line = raw.decode("utf-8")
                    entry_n, subject, p_hash, h = d["n"], d["subject"], d["prev_hash"], d["hash"]
                except (ValueError, KeyError):
                    raise StoreCorrupt(f"audit segment {seg.file}: the entry at byte offset {pos} is not a valid "
                                       "audit record") from None
                n += 1
                if entry_n != n:
                    self.open_problems.append(f"audit entry at {seg.file} offset {pos} has n={entry_n}, expected {n}")
                if p_hash != prev:
                    self.open_problems.append(f"audit chain broken at entry {n} ({seg.file} offset {pos}): "
                                              "prev_hash does not match the previous entry's hash")
                prev = h
                self._audit_lines.append(line)
                if subject is not None:
                    self._audit_subject.setdefault(subject, []).append(n - 1)
            end = seg.end(count)
            if end != seg.size:  # appended by a checkpoint that did not complete: the journal has them
                with open(seg.file, "r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
                self.recovery_notes.append(f"truncated {seg.size - end} uncheckpointed byte(s) from {seg.file}")
            if end != seg.listed["bytes"]:
                self.open_problems.append(f"audit segment {seg.file} holds {end} bytes for its {count} entries, "
                                          f"{CHECKPOINT_FILE} recorded {seg.listed['bytes']} (entries edited?)")
                seg.listed["bytes"] = end
        if n != audit["n"]:
            raise StoreCorrupt(f"audit segments hold {n} entries, {CHECKPOINT_FILE} says {audit['n']}")
        if prev != audit["head"]:
            self.open_problems.append(f"the audit chain ends with hash {prev[:16]}..., "
                                      f"{CHECKPOINT_FILE} recorded {audit['head'][:16]}...")
        self._audit_head = prev
        self._audit_segments = [dict(s) for s in audit["segments"]]
        self._audit_ckpt_n = n
        for name in os.listdir(self._adir):
            if name not in listed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._adir, name))

    def _replay_journal(self, ck: dict) -> None:
        start = ck["journal_start"]
        numbers = jr.list_segments(self._jdir)
        for number in numbers:
            if number < start:  # a checkpoint covered it but died before deleting it
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._jdir, jr.segment_name(number)))
        live = [x for x in numbers if x >= start]
        if not live or live[0] != start:
            raise StoreCorrupt(f"journal segment {os.path.join(self._jdir, jr.segment_name(start))} "
                               f"(where replay starts, per {CHECKPOINT_FILE}) is missing")
        for i, number in enumerate(live):
            if number != start + i:
                raise StoreCorrupt(f"journal segment {jr.segment_name(start + i)} is missing "
                                   f"(found {jr.segment_name(number)} after it)")
        txn = ck["txn"]
        scan = None
        tail = jr.tail_segment(self._jdir, live)
        for number in live:
            scan = jr.scan_segment(os.path.join(self._jdir, jr.segment_name(number)), last=number == tail)
            for off, payload in scan.records:
                try:
                    rec = loads(payload)
                    t = rec["t"]
                except (ValueError, KeyError, TypeError):
                    raise StoreCorrupt(f"journal segment {scan.path}: record at byte offset {off} "
                                       "passes its CRC but is not a unit of work") from None
                if t != txn + 1:
                    raise StoreCorrupt(f"journal segment {scan.path}: record at byte offset {off} is unit {t}, "
                                       f"expected {txn + 1}")
                try:
                    self._replay_record(rec, scan.path, off)
                except (KeyError, TypeError, ValueError, IndexError) as exc:
                    raise StoreCorrupt(f"journal segment {scan.path}: record at byte offset {off} is "
                                       f"malformed: {exc!r}") from None
                txn = t
            self._bytes_since += scan.end
            if scan.torn:
                with open(scan.path, "r+b") as f:
                    f.truncate(scan.end)
                    os.fsync(f.fileno())
                self.recovery_notes.append(f"dropped an unacknowledged torn tail of {scan.size - scan.end} "
                                           f"byte(s) from {scan.path} at offset {scan.end} ({scan.torn})")
        assert scan is not None
        self._seg_no = live[-1]
        self._seg_size = scan.end
        self._seg_fd = os.open(scan.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)

    def _replay_record(self, rec: dict, path: str, off: int) -> None:
        ops: list[tuple[str, str, Rec | None]] = []
        for kind, coll, did, version, seq, data in rec["ops"]:
            if kind == "put":
                ops.append((coll, did, Rec(version, seq, False, dumps_compact(data))))
            elif kind == "tomb":
                ops.append((coll, did, Rec(version, seq, True, None)))
            elif kind == "del":
                ops.append((coll, did, None))
            else:
                raise ValueError(f"unknown operation {kind!r}")
        lines = []
        n, head = len(self._audit_lines), self._audit_head
        for e in rec["audit"]:
            n += 1
            if e["n"] != n or e["prev_hash"] != head:
                self.open_problems.append(f"audit entry {e['n']} in {path} (record at offset {off}) does not "
                                          "continue the chain")
            head = e["hash"]
            lines.append((canonical(e), e["subject"], head))
        self._apply(rec["t"], rec["last_seq"], ops, lines, 0, feed=False)
