"""The embedded store: a write-ahead journal in front of TinyDB shard files.

Layout of a data directory (see docs/store.md for the full design and the crash analysis)::

    LOCK                      flock'ed by the process that has the store open (holds its pid)
    checkpoint.json           what the shard/audit files hold and where journal replay starts
    journal/000000000007.log  append-only segments of framed records, one record per unit of work
    shards/d03-5.c00000012.json  TinyDB files (one table per collection, documents keyed by id)
    audit/000000000001.jsonl  the hash-chained audit log, one canonical JSON line per entry

Commit = append one record to the journal + fdatasync, then apply it to the in-memory index.
A checkpoint (background thread) writes the shards changed since the last one as new TinyDB
files, appends new audit entries, atomically replaces checkpoint.json, then deletes journal
segments and shard files the new checkpoint no longer needs. Opening loads the checkpointed
files and replays the journal after the checkpoint.
"""

from __future__ import annotations

import bisect
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from . import journal as jr
from .audit import canonical, entry_hash, genesis, make_line, parse_line
from .base import (
    JSON,
    AuditEntry,
    CommitResult,
    Document,
    DuplicateKey,
    Store,
    StoreCorrupt,
    StoreError,
    StoreLocked,
    UnitOfWork,
    VersionConflict,
)
from .files import AtomicJSONStorage, atomic_write, fsync_dir, remove_orphan_temps

log = logging.getLogger("caseflow.store")

FORMAT = 1
CHECKPOINT_FILE = "checkpoint.json"
LOCK_FILE = "LOCK"
JOURNAL_DIR, SHARD_DIR, AUDIT_DIR = "journal", "shards", "audit"
AUDIT_SEGMENT_ENTRIES = 20_000

#: Names accepted by ``CASEFLOW_CRASH_AT`` (``name`` or ``name:N`` = on the N-th time it is reached).
CRASH_HOOKS = (
    "before_journal_write",
    "mid_journal_write",  # half of the record's bytes written: a torn record
    "after_journal_write_before_fsync",
    "after_fsync_before_apply",
    "during_checkpoint",  # shard and audit files written, checkpoint.json not yet replaced
)

_fsync_data = getattr(os, "fdatasync", os.fsync)


class _Rec(NamedTuple):
    """State of one document (committed or pending). ``data`` is its JSON text (None: tombstone)."""

    version: int
    seq: int
    deleted: bool
    data: str | None


_MISSING = object()
_EMPTY: dict[str, _Rec] = {}


def _jd(value: Any) -> str:
    return json.dumps(value)


def _dump_data(data: Any) -> str:
    if not isinstance(data, Mapping):
        raise TypeError(f"document data must be a mapping, not {type(data).__name__}")
    if not isinstance(data, dict):
        data = dict(data)
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


def _key_hash(collection: str, doc_id: str) -> int:
    raw = f"{collection}\x00{doc_id}".encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


def _check_name(kind: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{kind} must be a non-empty string, not {value!r}")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _shard_file(key: tuple[int, int], checkpoint_no: int) -> str:
    depth, bits = key
    return f"d{depth:02d}-{bits:0{max(1, (depth + 3) // 4)}x}.c{checkpoint_no:08d}.json"


def _shard_text(items: list[tuple[tuple[str, str], _Rec]]) -> str:
    """A TinyDB database (one table per collection, ids as keys) built from the JSON texts in memory."""
    by_coll: dict[str, list[tuple[str, _Rec]]] = {}
    for (coll, did), rec in items:
        by_coll.setdefault(coll, []).append((did, rec))
    tables = []
    for coll in sorted(by_coll):
        docs = sorted(by_coll[coll], key=lambda t: t[0])
        inner = ",".join(
            f'{_jd(did)}:{{"version":{r.version},"seq":{r.seq},"deleted":{"true" if r.deleted else "false"},'
            f'"data":{r.data if r.data is not None else "null"}}}'
            for did, r in docs
        )
        tables.append(f"{_jd(coll)}:{{{inner}}}")
    return "{" + ",".join(tables) + "}"


def _encode_checkpoint(body: dict) -> bytes:
    text = canonical(body)
    return canonical({"body": body, "sha256": hashlib.sha256(text.encode()).hexdigest()}).encode()


def _read_checkpoint(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        wrapper = json.loads(raw)
        body = wrapper["body"]
        ok = hashlib.sha256(canonical(body).encode()).hexdigest() == wrapper["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreCorrupt(f"{path} is unreadable: {exc}") from None
    if not ok:
        raise StoreCorrupt(f"{path} fails its checksum (modified or damaged)")
    if body.get("format") != FORMAT:
        raise StoreCorrupt(f"{path} has format {body.get('format')!r}; this code reads format {FORMAT}")
    return body


def _acquire_lock(path: str) -> int:
    lock_path = os.path.join(path, LOCK_FILE)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = os.pread(fd, 64, 0).decode().strip()
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            who = f"process {holder}" if holder else "another process"
            raise StoreLocked(
                f"data directory {path} is in use by {who} (lock file {lock_path}); "
                "only one process may open the embedded store: stop the other one or use another directory"
            ) from None
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class _Crash:
    __slots__ = ("name", "left")

    def __init__(self, spec: str):
        name, _, count = spec.partition(":")
        if name not in CRASH_HOOKS:
            raise ValueError(f"CASEFLOW_CRASH_AT={spec!r}: unknown hook; known: {', '.join(CRASH_HOOKS)}")
        self.name = name
        self.left = int(count) if count else 1

    def hit(self, name: str) -> None:
        if name == self.name:
            self.left -= 1
            if self.left <= 0:
                os.kill(os.getpid(), signal.SIGKILL)


class _Snapshot(NamedTuple):
    checkpoint_no: int
    txn: int
    last_seq: int
    journal_start: int
    audit_n: int
    audit_head: str
    audit_new: list[str]
    dirty: dict[tuple[int, int], list[tuple[tuple[str, str], _Rec]]]
    shard_keys: list[tuple[int, int]]
    covered_bytes: int
    covered_records: int


class TinyUnitOfWork(UnitOfWork):
    def __init__(self, store: TinyStore):
        self._store = store
        self._pending: dict[tuple[str, str], _Rec | None] = {}  # None: hard delete
        self._undo: list[tuple[tuple[str, str], Any]] = []
        self._audit: list[tuple[str | None, JSON]] = []
        self._base_seq = store._last_seq
        self._next_seq = store._last_seq  # last seq allocated by this unit
        self._open = True
        self.result: CommitResult | None = None

    # -- reads -----------------------------------------------------------------
    def _current(self, key: tuple[str, str]) -> _Rec | None:
        if key in self._pending:
            return self._pending[key]
        return self._store._colls.get(key[0], _EMPTY).get(key[1])

    def get(self, collection: str, doc_id: str) -> Document | None:
        self._check()
        rec = self._current((collection, doc_id))
        if rec is None or rec.deleted:
            return None
        return Document(collection, doc_id, rec.version, json.loads(rec.data), rec.seq)  # type: ignore[arg-type]

    # -- writes ----------------------------------------------------------------
    def _check(self) -> None:
        if not self._open:
            raise StoreError("this unit of work has ended; start a new store.transaction()")

    def _seq_for(self, key: tuple[str, str], publish: bool) -> int:
        if not publish:
            return 0
        prev = self._pending.get(key)
        if prev is not None and prev.seq > self._base_seq:
            return prev.seq  # written earlier in this unit: keep its position, no hole in the feed
        self._next_seq += 1
        return self._next_seq

    def _set(self, key: tuple[str, str], rec: _Rec | None) -> None:
        self._undo.append((key, self._pending.get(key, _MISSING)))
        self._pending[key] = rec

    def insert(self, collection: str, doc_id: str, data: Mapping[str, Any], *, publish: bool = False) -> Document:
        self._check()
        _check_name("collection", collection)
        _check_name("document id", doc_id)
        text = _dump_data(data)
        key = (collection, doc_id)
        if self._current(key) is not None:
            raise DuplicateKey(collection, doc_id)
        rec = _Rec(1, self._seq_for(key, publish), False, text)
        self._set(key, rec)
        return Document(collection, doc_id, 1, json.loads(text), rec.seq)

    def _expect(self, key: tuple[str, str], expected_version: int) -> _Rec:
        """The live record at ``key``, if it is at ``expected_version`` (compare-and-set)."""
        cur = self._current(key)
        if cur is None or cur.deleted:
            raise VersionConflict(*key, expected_version, 0)
        if cur.version != expected_version:
            raise VersionConflict(*key, expected_version, cur.version)
        return cur

    def update(self, collection: str, doc_id: str, data: Mapping[str, Any], *, expected_version: int,
               publish: bool = False) -> Document:
        self._check()
        text = _dump_data(data)
        key = (collection, doc_id)
        cur = self._expect(key, expected_version)
        rec = _Rec(cur.version + 1, self._seq_for(key, publish), False, text)
        self._set(key, rec)
        return Document(collection, doc_id, rec.version, json.loads(text), rec.seq)

    def delete(self, collection: str, doc_id: str, *, expected_version: int, publish: bool = False) -> None:
        self._check()
        key = (collection, doc_id)
        cur = self._expect(key, expected_version)
        if publish:
            self._set(key, _Rec(cur.version + 1, self._seq_for(key, True), True, None))
        else:
            self._set(key, None)

    def audit(self, entry: Mapping[str, Any], *, subject: str | None = None) -> None:
        self._check()
        if not isinstance(entry, Mapping):
            raise TypeError(f"audit entry must be a mapping, not {type(entry).__name__}")
        if subject is not None and not isinstance(subject, str):
            raise TypeError("audit subject must be a string or None")
        self._audit.append((subject, json.loads(canonical(dict(entry)))))

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._check()
        mark = (len(self._undo), self._next_seq, len(self._audit))
        try:
            yield
        except BaseException:
            self._rollback_to(mark)
            raise

    def _rollback_to(self, mark: tuple[int, int, int]) -> None:
        n_undo, next_seq, n_audit = mark
        while len(self._undo) > n_undo:
            key, prev = self._undo.pop()
            if prev is _MISSING:
                del self._pending[key]
            else:
                self._pending[key] = prev
        self._next_seq = next_seq
        del self._audit[n_audit:]


class TinyStore(Store):
    """The embedded store (see the module docstring and docs/store.md).

    Options: ``checkpoint_bytes`` / ``checkpoint_records``: journal size since the last
    checkpoint that triggers the next one (default: max(8 MiB, a quarter of the documents'
    size) and 100,000 records); ``background_checkpoint``: run checkpoints in a daemon thread
    (default) or inline after the commit that crossed the threshold; ``shard_max_docs`` /
    ``shard_max_bytes``: a shard bigger than this is split in two at the next checkpoint;
    ``create``: create the store if the directory holds none.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, checkpoint_bytes: int | None = None,
                 checkpoint_records: int = 100_000, background_checkpoint: bool = True,
                 shard_max_docs: int = 128, shard_max_bytes: int = 128 * 1024, create: bool = True):
        self.path = os.path.abspath(os.fspath(data_dir))
        self._jdir = os.path.join(self.path, JOURNAL_DIR)
        self._sdir = os.path.join(self.path, SHARD_DIR)
        self._adir = os.path.join(self.path, AUDIT_DIR)
        self._checkpoint_bytes = checkpoint_bytes
        self._checkpoint_records = checkpoint_records
        self._background = background_checkpoint
        self._shard_max_docs = max(1, shard_max_docs)
        self._shard_max_bytes = max(1, shard_max_bytes)
        spec = os.environ.get("CASEFLOW_CRASH_AT")
        self._crash = _Crash(spec) if spec else None

        self._write_lock = threading.Lock()  # one unit of work at a time (held for the whole unit)
        self._state_lock = threading.Lock()  # readers vs. applying a committed unit
        self._ckpt_lock = threading.Lock()  # one checkpoint / verify at a time
        self._writer: int | None = None
        self._closed = False
        self._failed: str | None = None

        # committed state
        self._colls: dict[str, dict[str, _Rec]] = {}
        self._last_seq = 0
        self._txn = 0
        self._doc_bytes = 0
        self._live_docs = 0
        self._feed_seq: list[int] = []
        self._feed_key: list[tuple[str, str]] = []
        self._feed_stale = 0
        self._audit_lines: list[str] = []
        self._audit_subject: dict[str, list[int]] = {}
        self._audit_head = ""
        # shards: key (depth, bits) -> member document keys; a doc belongs to the shard whose
        # ``bits`` equal the low ``depth`` bits of its hash (the keys form a prefix-free cover).
        self._members: dict[tuple[int, int], set[tuple[str, str]]] = {}
        self._min_depth = self._max_depth = 0
        self._dirty: set[tuple[int, int]] = set()
        # journal
        self._seg_no = 0
        self._seg_fd = -1
        self._seg_size = 0
        self._bytes_since = 0
        self._records_since = 0
        # what the last checkpoint wrote
        self._ckpt_no = 0
        self._ckpt_start = 1
        self._shard_files: dict[tuple[int, int], dict] = {}
        self._audit_segments: list[dict] = []
        self._audit_ckpt_n = 0
        self.store_id = ""
        # diagnostics
        self.open_problems: list[str] = []
        self.recovery_notes: list[str] = []
        self._n_checkpoints = 0
        self._last_ckpt_ms = 0.0
        self._ckpt_error: str | None = None

        os.makedirs(self.path, mode=0o700, exist_ok=True)
        self._lock_fd = _acquire_lock(self.path)
        try:
            self._load(create)
        except BaseException:
            if self._seg_fd >= 0:
                os.close(self._seg_fd)
            os.close(self._lock_fd)
            raise
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        if self._background:
            self._worker = threading.Thread(target=self._worker_loop, name="store-checkpoint", daemon=True)
            self._worker.start()
        if self._checkpoint_due():
            self._request_checkpoint()

    # ------------------------------------------------------------------ hooks
    def _hook(self, name: str) -> None:
        if self._crash is not None:
            self._crash.hit(name)

    # ------------------------------------------------------------------ reads
    def _usable(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def get(self, collection: str, doc_id: str) -> Document | None:
        self._usable()
        with self._state_lock:
            rec = self._colls.get(collection, _EMPTY).get(doc_id)
        if rec is None or rec.deleted:
            return None
        return Document(collection, doc_id, rec.version, json.loads(rec.data), rec.seq)  # type: ignore[arg-type]

    def version_of(self, collection: str, doc_id: str) -> int | None:
        self._usable()
        with self._state_lock:
            rec = self._colls.get(collection, _EMPTY).get(doc_id)
        return None if rec is None or rec.deleted else rec.version

    def scan(self, collection: str, where: Callable[[JSON], bool] | None = None) -> Iterator[Document]:
        self._usable()
        with self._state_lock:
            items = list(self._colls.get(collection, _EMPTY).items())
        for did, rec in items:
            if rec.deleted:
                continue
            data = json.loads(rec.data)  # type: ignore[arg-type]
            if where is None or where(data):
                yield Document(collection, did, rec.version, data, rec.seq)

    def _feed_records(self, after_seq: int, limit: int) -> list[tuple[tuple[str, str], _Rec]]:
        """The next ``limit`` live feed entries after ``after_seq`` (records only: nothing parsed)."""
        out: list[tuple[tuple[str, str], _Rec]] = []
        if limit <= 0:
            return out
        with self._state_lock:
            seqs, keys, colls = self._feed_seq, self._feed_key, self._colls
            i = bisect.bisect_right(seqs, after_seq)
            n = len(seqs)
            while i < n and len(out) < limit:
                key = keys[i]
                rec = colls.get(key[0], _EMPTY).get(key[1])
                if rec is not None and rec.seq == seqs[i]:
                    out.append((key, rec))
                i += 1
        return out

    @staticmethod
    def _document(key: tuple[str, str], rec: _Rec) -> Document:
        return Document(key[0], key[1], rec.version, {} if rec.deleted else json.loads(rec.data),  # type: ignore[arg-type]
                        rec.seq, rec.deleted)

    def changes_since(self, after_seq: int, limit: int) -> list[Document]:
        self._usable()
        return [self._document(key, rec) for key, rec in self._feed_records(after_seq, limit)]

    def scan_changes(self, after_seq, limit, keep):
        self._usable()
        records = self._feed_records(after_seq, limit)  # keep() runs outside the state lock: it may read
        scanned = records[-1][1].seq if records else after_seq
        return [self._document(key, rec) for key, rec in records if keep(key[0], key[1], rec.deleted)], scanned

    def last_seq(self) -> int:
        return self._last_seq

    def audit_log(self, subject: str | None = None) -> Iterator[AuditEntry]:
        self._usable()
        with self._state_lock:
            lines = self._audit_lines
            idx: Any = range(len(lines)) if subject is None else list(self._audit_subject.get(subject, ()))
        for i in idx:
            yield parse_line(lines[i])

    def stats(self) -> dict[str, Any]:
        with self._state_lock:
            return {
                "path": self.path,
                "store_id": self.store_id,
                "documents": self._live_docs,
                "collections": len(self._colls),
                "document_bytes": self._doc_bytes,
                "last_seq": self._last_seq,
                "units_committed": self._txn,
                "audit_entries": len(self._audit_lines),
                "shards": len(self._members),
                "shard_depth": [self._min_depth, self._max_depth],
                "journal_segment": self._seg_no,
                "journal_bytes_since_checkpoint": self._bytes_since,
                "checkpoint_threshold_bytes": self._checkpoint_threshold(),
                "records_since_checkpoint": self._records_since,
                "checkpoint": self._ckpt_no,
                "checkpoints_this_session": self._n_checkpoints,
                "last_checkpoint_ms": round(self._last_ckpt_ms, 2),
                "checkpoint_error": self._ckpt_error,
                "failed": self._failed,
                "open_problems": list(self.open_problems),
                "recovery_notes": list(self.recovery_notes),
            }

    # ------------------------------------------------------------------ writes
    @contextlib.contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        self._usable()
        me = threading.get_ident()
        if self._writer == me:
            raise StoreError("transaction() inside a transaction of the same thread; use uow.savepoint()")
        self._write_lock.acquire()
        try:
            self._writer = me
            if self._closed:
                raise StoreError("the store is closed")
            if self._failed:
                raise StoreError(f"the store refuses writes after an I/O failure ({self._failed}); reopen it")
            uow = TinyUnitOfWork(self)
            try:
                yield uow
                self._commit(uow)
            finally:
                uow._open = False
        finally:
            self._writer = None
            self._write_lock.release()
        if self._checkpoint_due():
            self._request_checkpoint()

    def _commit(self, uow: TinyUnitOfWork) -> None:
        ops_text: list[str] = []
        ops: list[tuple[str, str, _Rec | None]] = []
        for (coll, did), rec in uow._pending.items():
            if rec is None:
                if self._colls.get(coll, _EMPTY).get(did) is None:
                    continue  # created and removed inside this unit
                ops_text.append(f'["del",{_jd(coll)},{_jd(did)},0,0,null]')
            elif rec.deleted:
                ops_text.append(f'["tomb",{_jd(coll)},{_jd(did)},{rec.version},{rec.seq},null]')
            else:
                ops_text.append(f'["put",{_jd(coll)},{_jd(did)},{rec.version},{rec.seq},{rec.data}]')
            ops.append((coll, did, rec))
        if not ops and not uow._audit:
            uow.result = CommitResult(self._last_seq, [])
            return
        txn = self._txn + 1
        last_seq = max(self._last_seq, uow._next_seq)
        at = _now()
        audit_lines: list[tuple[str, str | None, str]] = []
        prev, n = self._audit_head, len(self._audit_lines)
        for subject, entry in uow._audit:
            n += 1
            line, prev = make_line(prev, n, at, subject, entry)
            audit_lines.append((line, subject, prev))
        payload = (f'{{"t":{txn},"at":"{at}","last_seq":{last_seq},"ops":[{",".join(ops_text)}],'
                   f'"audit":[{",".join(a[0] for a in audit_lines)}]}}')
        data = jr.frame(payload.encode("ascii"))
        self._journal_append(data)
        self._hook("after_fsync_before_apply")
        try:
            self._apply(txn, last_seq, ops, audit_lines, len(data))
        except BaseException as exc:  # durable but not in memory: memory is now wrong
            self._failed = f"applying unit {txn} failed: {exc!r}"
            raise
        uow.result = CommitResult(last_seq, [
            Document(c, d, r.version, {} if r.deleted else json.loads(r.data), r.seq, r.deleted)  # type: ignore[arg-type]
            for c, d, r in ops if r is not None
        ])

    def _journal_append(self, data: bytes) -> None:
        fd, start = self._seg_fd, self._seg_size
        self._hook("before_journal_write")
        try:
            view = memoryview(data)
            if self._crash is not None and self._crash.name == "mid_journal_write":
                first, view = view[: len(data) // 2], view[len(data) // 2 :]
                while first:
                    first = first[os.write(fd, first):]
                self._hook("mid_journal_write")  # not the N-th time: go on with the second half only
            while view:
                view = view[os.write(fd, view):]
            self._hook("after_journal_write_before_fsync")
            _fsync_data(fd)
        except OSError as exc:
            # Not acknowledged. Remove whatever reached the file so the next record does not land
            # after garbage; if even that fails, refuse further writes until reopened.
            try:
                os.ftruncate(fd, start)
                os.fsync(fd)
            except OSError as exc2:
                self._failed = f"journal write failed ({exc}) and could not be undone ({exc2})"
            raise StoreError(f"journal write failed, nothing was committed: {exc}") from exc
        self._seg_size = start + len(data)

    def _apply(self, txn: int, last_seq: int, ops: list[tuple[str, str, _Rec | None]],
               audit_lines: list[tuple[str, str | None, str]], nbytes: int, *, feed: bool = True) -> None:
        with self._state_lock:
            new_feed: list[tuple[int, tuple[str, str]]] = []
            for coll, did, rec in ops:
                c = self._colls.get(coll)
                if c is None:
                    c = self._colls[coll] = {}
                key = (coll, did)
                if rec is None:
                    old = c.pop(did, None)
                else:
                    old = c.get(did)
                    c[did] = rec
                if old is not None:
                    if not old.deleted:
                        self._live_docs -= 1
                    if old.seq:
                        self._feed_stale += 1
                    if old.data is not None:
                        self._doc_bytes -= len(old.data)
                if rec is not None:
                    if not rec.deleted:
                        self._live_docs += 1
                    if rec.seq:
                        new_feed.append((rec.seq, key))
                    if rec.data is not None:
                        self._doc_bytes += len(rec.data)
                shard = self._shard_for(_key_hash(coll, did))
                if rec is None:
                    self._members[shard].discard(key)
                else:
                    self._members[shard].add(key)
                self._dirty.add(shard)
            if feed and new_feed:
                new_feed.sort()
                self._feed_seq.extend(s for s, _ in new_feed)
                self._feed_key.extend(k for _, k in new_feed)
            for line, subject, h in audit_lines:
                self._audit_lines.append(line)
                if subject is not None:
                    self._audit_subject.setdefault(subject, []).append(len(self._audit_lines) - 1)
                self._audit_head = h
            self._last_seq = last_seq
            self._txn = txn
            self._bytes_since += nbytes
            self._records_since += 1
            if feed and self._feed_stale > 4096 and self._feed_stale * 2 > len(self._feed_seq):
                self._rebuild_feed()

    def _rebuild_feed(self) -> None:
        entries = sorted(
            (rec.seq, (coll, did)) for coll, c in self._colls.items() for did, rec in c.items() if rec.seq
        )
        self._feed_seq = [s for s, _ in entries]
        self._feed_key = [k for _, k in entries]
        self._feed_stale = 0

    def _shard_for(self, h: int) -> tuple[int, int]:
        members = self._members
        for depth in range(self._min_depth, self._max_depth + 1):
            key = (depth, h & ((1 << depth) - 1))
            if key in members:
                return key
        raise AssertionError("shard keys do not cover the hash space")

    # ------------------------------------------------------------------ checkpoint
    def _checkpoint_threshold(self) -> int:
        if self._checkpoint_bytes is not None:
            return self._checkpoint_bytes
        return max(8 << 20, self._doc_bytes // 4)

    def _checkpoint_due(self) -> bool:
        return (self._bytes_since >= self._checkpoint_threshold()
                or self._records_since >= self._checkpoint_records)

    def _request_checkpoint(self) -> None:
        if self._background:
            self._wake.set()
        else:
            self.checkpoint()

    def _worker_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            if not self._checkpoint_due():
                continue
            try:
                self.checkpoint()
            except Exception as exc:  # keep serving; the journal still holds everything
                self._ckpt_error = repr(exc)
                log.exception("checkpoint failed; will retry")
                time.sleep(1.0)
                self._wake.set()

    def checkpoint(self) -> bool:
        """Write changed shards and audit entries, then move the replay start forward.
        Returns False when there was nothing to do. Safe to call from any thread outside a unit."""
        if self._writer == threading.get_ident():
            raise StoreError("checkpoint() inside a transaction of the same thread")
        with self._ckpt_lock:
            if self._closed or self._failed:
                return False
            started = time.perf_counter()
            snap = self._snapshot()
            if snap is None:
                return False
            try:
                self._write_checkpoint(snap)
            except BaseException:
                with self._write_lock:
                    self._dirty.update(snap.dirty)
                    self._bytes_since += snap.covered_bytes
                    self._records_since += snap.covered_records
                raise
            self._n_checkpoints += 1
            self._ckpt_error = None
            self._last_ckpt_ms = (time.perf_counter() - started) * 1000
            return True

    def _snapshot(self) -> _Snapshot | None:
        with self._write_lock:
            if not self._dirty and self._records_since == 0 and len(self._audit_lines) == self._audit_ckpt_n:
                return None
            dirty: dict[tuple[int, int], list[tuple[tuple[str, str], _Rec]]] = {}
            for shard in list(self._dirty):
                if shard in self._members:
                    self._collect(shard, dirty)
            self._rotate_segment()
            snap = _Snapshot(
                checkpoint_no=self._ckpt_no + 1, txn=self._txn, last_seq=self._last_seq,
                journal_start=self._seg_no, audit_n=len(self._audit_lines), audit_head=self._audit_head,
                audit_new=self._audit_lines[self._audit_ckpt_n:], dirty=dirty,
                shard_keys=list(self._members), covered_bytes=self._bytes_since,
                covered_records=self._records_since,
            )
            self._dirty = set()
            self._bytes_since = 0
            self._records_since = 0
            return snap

    def _collect(self, shard: tuple[int, int], out: dict) -> None:
        colls = self._colls
        items = []
        nbytes = 0
        for key in self._members[shard]:
            rec = colls[key[0]][key[1]]
            items.append((key, rec))
            nbytes += 64 + (len(rec.data) if rec.data is not None else 0)
        too_big = len(items) > self._shard_max_docs or nbytes > self._shard_max_bytes
        if too_big and len(items) > 1 and shard[0] < 60:
            for child in self._split(shard):
                self._collect(child, out)
        else:
            out[shard] = items

    def _split(self, shard: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        depth, bits = shard
        low, high = (depth + 1, bits), (depth + 1, bits | (1 << depth))
        m_low: set[tuple[str, str]] = set()
        m_high: set[tuple[str, str]] = set()
        for key in self._members[shard]:
            (m_high if (_key_hash(*key) >> depth) & 1 else m_low).add(key)
        with self._state_lock:
            del self._members[shard]
            self._members[low] = m_low
            self._members[high] = m_high
            self._min_depth = min(k[0] for k in self._members)
            self._max_depth = max(self._max_depth, depth + 1)
        self._dirty.discard(shard)
        self._dirty.update((low, high))
        return low, high

    def _rotate_segment(self) -> None:
        number = self._seg_no + 1
        fd = os.open(os.path.join(self._jdir, jr.segment_name(number)),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fsync_dir(self._jdir)
        except BaseException:
            os.close(fd)
            raise
        os.close(self._seg_fd)
        self._seg_fd, self._seg_no, self._seg_size = fd, number, 0

    def _write_checkpoint(self, snap: _Snapshot) -> None:
        written: dict[tuple[int, int], dict] = {}
        for shard, items in snap.dirty.items():
            name = _shard_file(shard, snap.checkpoint_no)
            text = _shard_text(items)
            AtomicJSONStorage(os.path.join(self._sdir, name), sync_dir=False).write_text(text)
            written[shard] = {"key": list(shard), "file": name, "docs": len(items),
                              "sha256": hashlib.sha256(text.encode()).hexdigest()}
        if written:
            fsync_dir(self._sdir)
        segments = [dict(s) for s in self._audit_segments]
        if snap.audit_new:
            self._append_audit(segments, snap.audit_new, snap.audit_n - len(snap.audit_new) + 1)
        self._hook("during_checkpoint")
        shards = [written.get(k) or self._shard_files[k] for k in snap.shard_keys]
        body = {
            "format": FORMAT, "store_id": self.store_id, "checkpoint": snap.checkpoint_no, "txn": snap.txn,
            "last_seq": snap.last_seq, "journal_start": snap.journal_start, "written_at": _now(),
            "audit": {"n": snap.audit_n, "head": snap.audit_head, "segments": segments},
            "shards": shards,
        }
        atomic_write(os.path.join(self.path, CHECKPOINT_FILE), _encode_checkpoint(body))
        # The new checkpoint is durable: forget what it supersedes.
        old_files = {i["file"] for i in self._shard_files.values() if i.get("file")}
        self._shard_files = {tuple(i["key"]): i for i in shards}  # type: ignore[misc]
        self._audit_segments = segments
        self._audit_ckpt_n = snap.audit_n
        self._ckpt_no = snap.checkpoint_no
        self._ckpt_start = snap.journal_start
        keep = {i["file"] for i in shards if i.get("file")}
        for name in old_files - keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self._sdir, name))
        for number in jr.list_segments(self._jdir):
            if number < snap.journal_start:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self._jdir, jr.segment_name(number)))

    def _append_audit(self, segments: list[dict], lines: list[str], first_n: int) -> None:
        i = 0
        while i < len(lines):
            new = not segments or segments[-1]["count"] >= AUDIT_SEGMENT_ENTRIES
            if new:
                segments.append({"file": f"{first_n + i:012d}.jsonl", "first": first_n + i, "count": 0, "bytes": 0})
            seg = segments[-1]
            chunk = lines[i : i + AUDIT_SEGMENT_ENTRIES - seg["count"]]
            blob = ("\n".join(chunk) + "\n").encode("ascii")
            fd = os.open(os.path.join(self._adir, seg["file"]), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.ftruncate(fd, seg["bytes"])  # drop anything a failed checkpoint appended
                os.lseek(fd, seg["bytes"], os.SEEK_SET)
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if new:
                fsync_dir(self._adir)
            seg["count"] += len(chunk)
            seg["bytes"] += len(blob)
            i += len(chunk)

    # ------------------------------------------------------------------ open / recovery
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
        ck = _read_checkpoint(ck_path)
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
        store_id = uuid.uuid4().hex
        body = {
            "format": FORMAT, "store_id": store_id, "checkpoint": 0, "txn": 0, "last_seq": 0,
            "journal_start": 1, "written_at": _now(),
            "audit": {"n": 0, "head": genesis(store_id), "segments": []},
            "shards": [{"key": [0, 0], "file": None, "docs": 0, "sha256": None}],
        }
        atomic_write(ck_path, _encode_checkpoint(body))

    def _load_shards(self, ck: dict) -> None:
        listed = set()
        for info in ck["shards"]:
            key = (int(info["key"][0]), int(info["key"][1]))
            members: set[tuple[str, str]] = set()
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
                            text = None if deleted else json.dumps(d["data"], separators=(",", ":"))
                            if did in c:
                                raise StoreCorrupt(f"shard file {path}: {coll}/{did} is also in another shard")
                            c[did] = _Rec(int(d["version"]), int(d["seq"]), deleted, text)
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
        for seg in audit["segments"]:
            listed.add(seg["file"])
            path = os.path.join(self._adir, seg["file"])
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                raise StoreCorrupt(f"audit segment {path} listed in {CHECKPOINT_FILE} is missing") from None
            pos = 0
            for _ in range(seg["count"]):
                nl = raw.find(b"\n", pos)
                if nl < 0:
                    raise StoreCorrupt(f"audit segment {path} ends at byte offset {pos}, before entry {n + 1} "
                                       f"({CHECKPOINT_FILE} says it holds {seg['count']} entries)")
                try:
                    line = raw[pos:nl].decode("utf-8")
                    d = json.loads(line)
                    entry_n, subject, p_hash, h = d["n"], d["subject"], d["prev_hash"], d["hash"]
                except (ValueError, KeyError, TypeError):
                    raise StoreCorrupt(f"audit segment {path}: the entry at byte offset {pos} is not a valid "
                                       "audit record") from None
                n += 1
                if entry_n != n:
                    self.open_problems.append(f"audit entry at {path} offset {pos} has n={entry_n}, expected {n}")
                if p_hash != prev:
                    self.open_problems.append(f"audit chain broken at entry {n} ({path} offset {pos}): "
                                              "prev_hash does not match the previous entry's hash")
                prev = h
                self._audit_lines.append(line)
                if subject is not None:
                    self._audit_subject.setdefault(subject, []).append(n - 1)
                pos = nl + 1
            if pos != len(raw):  # appended by a checkpoint that did not complete: the journal has them
                with open(path, "r+b") as f:
                    f.truncate(pos)
                    os.fsync(f.fileno())
                self.recovery_notes.append(f"truncated {len(raw) - pos} uncheckpointed byte(s) from {path}")
            if pos != seg["bytes"]:
                self.open_problems.append(f"audit segment {path} holds {pos} bytes for its {seg['count']} entries, "
                                          f"{CHECKPOINT_FILE} recorded {seg['bytes']} (entries edited?)")
                seg["bytes"] = pos
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
        for i, number in enumerate(live):
            scan = jr.scan_segment(os.path.join(self._jdir, jr.segment_name(number)), last=i == len(live) - 1)
            for off, payload in scan.records:
                try:
                    rec = json.loads(payload)
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
        ops: list[tuple[str, str, _Rec | None]] = []
        for kind, coll, did, version, seq, data in rec["ops"]:
            if kind == "put":
                ops.append((coll, did, _Rec(version, seq, False, json.dumps(data, separators=(",", ":")))))
            elif kind == "tomb":
                ops.append((coll, did, _Rec(version, seq, True, None)))
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

    # ------------------------------------------------------------------ integrity
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
                ck: dict | None = _read_checkpoint(ck_path)
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
                    if _key_hash(coll, did) & ((1 << depth) - 1) != bits:
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
        problems = []
        prev = genesis(self.store_id)
        n = 0
        for seg in ck["audit"]["segments"]:
            path = os.path.join(self._adir, seg["file"])
            try:
                with open(path, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                problems.append(f"audit segment {path} is missing")
                return problems
            pos = 0
            for _ in range(seg["count"]):
                nl = raw.find(b"\n", pos)
                if nl < 0:
                    problems.append(f"audit segment {path} ends early at byte offset {pos}")
                    return problems
                n += 1
                try:
                    d = json.loads(raw[pos:nl])
                    expect = entry_hash(d["prev_hash"], d["n"], d["at"], d["subject"], d["entry"])
                    if d["n"] != n:
                        problems.append(f"audit entry {n} ({path} offset {pos}) is numbered {d['n']}")
                    if d["prev_hash"] != prev:
                        problems.append(f"audit entry {n} ({path} offset {pos}): prev_hash does not link to "
                                        "the previous entry")
                    if d["hash"] != expect:
                        problems.append(f"audit entry {n} ({path} offset {pos}): hash does not match its "
                                        "content (entry altered)")
                    if n <= len(self._audit_lines) and raw[pos:nl].decode("utf-8") != self._audit_lines[n - 1]:
                        problems.append(f"audit entry {n} ({path} offset {pos}) differs from the one committed")
                    prev = d["hash"]
                except (ValueError, KeyError, TypeError) as exc:
                    problems.append(f"audit entry {n} ({path} offset {pos}) is unreadable: {exc!r}")
                pos = nl + 1
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

    # ------------------------------------------------------------------ close
    def close(self) -> None:
        if self._closed:
            return
        if self._writer == threading.get_ident():
            raise StoreError("close() inside a transaction of the same thread")
        with self._ckpt_lock, self._write_lock:
            self._closed = True
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join()
        os.close(self._seg_fd)
        os.close(self._lock_fd)  # releases the flock


def open_store(data_dir: str | os.PathLike[str], **options: Any) -> TinyStore:
    """Open (creating if needed) the embedded TinyDB store in ``data_dir``. See ``TinyStore``."""
    return TinyStore(data_dir, **options)


def check_data_dir(data_dir: str | os.PathLike[str]) -> list[str]:
    """Integrity check of a data directory for ``caseflow store check``: opens the store (which
    recovers a torn journal tail and removes crash leftovers, like any open), runs ``verify()``
    and closes it without checkpointing. Returns the problems found (empty: healthy). A store that
    cannot be opened (``StoreCorrupt``) or does not exist is reported as the list's only entry;
    ``StoreLocked`` propagates (stop the server first)."""
    path = os.path.abspath(os.fspath(data_dir))
    if not os.path.exists(os.path.join(path, CHECKPOINT_FILE)) and not (
            os.path.isdir(os.path.join(path, JOURNAL_DIR)) and os.listdir(os.path.join(path, JOURNAL_DIR))):
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
