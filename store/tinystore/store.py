"""``TinyStore``: the embedded store's state, its reads and the unit-of-work entry point.

Commit, checkpoint, recovery and verification are mixins in sibling modules that work on the
state declared in ``__init__`` here.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from ..audit import parse_line
from ..base import JSON, AuditEntry, Document, Store, StoreError, UnitOfWork
from ..fastjson import loads
from .backup import BackupMixin
from .checkpoint import CheckpointMixin
from .commit import CommitMixin
from .crash import Crash
from .layout import AUDIT_DIR, JOURNAL_DIR, SHARD_DIR, acquire_lock
from .records import EMPTY, Key, Rec
from .recovery import RecoveryMixin
from .unit import TinyUnitOfWork
from .verify import VerifyMixin


class TinyStore(CommitMixin, CheckpointMixin, RecoveryMixin, VerifyMixin, BackupMixin, Store):
    """The embedded store (see the package docstring and docs/store.md).

    Options: ``checkpoint_bytes`` / ``checkpoint_records``: journal size since the last
    checkpoint that triggers the next one (default: max(8 MiB, a quarter of the documents'
    size) and 100,000 records); ``background_checkpoint``: run checkpoints in a daemon thread
    (default) or inline after the commit that crossed the threshold; ``shard_max_docs`` /
    ``shard_max_bytes``: a shard bigger than this is split in two at the next checkpoint;
    ``create``: create the store if the directory holds none; ``store_id``: the id a newly
    created store takes (a copy of another store keeps its id, which its audit chain is bound to).
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, checkpoint_bytes: int | None = None,
                 checkpoint_records: int = 100_000, background_checkpoint: bool = True,
                 shard_max_docs: int = 128, shard_max_bytes: int = 128 * 1024, create: bool = True,
                 store_id: str | None = None):
        self.path = os.path.abspath(os.fspath(data_dir))
        self._jdir = os.path.join(self.path, JOURNAL_DIR)
        self._sdir = os.path.join(self.path, SHARD_DIR)
        self._adir = os.path.join(self.path, AUDIT_DIR)
        self._checkpoint_bytes = checkpoint_bytes
        self._checkpoint_records = checkpoint_records
        self._background = background_checkpoint
        self._shard_max_docs = max(1, shard_max_docs)
        self._shard_max_bytes = max(1, shard_max_bytes)
        self._new_store_id = store_id
        spec = os.environ.get("CASEFLOW_CRASH_AT")
        self._crash = Crash(spec) if spec else None

        self._write_lock = threading.Lock()  # one unit of work at a time (held for the whole unit)
        self._state_lock = threading.Lock()  # readers vs. applying a committed unit
        self._ckpt_lock = threading.Lock()  # one checkpoint / verify at a time
        self._writer: int | None = None
        self._closed = False
        self._failed: str | None = None

        # committed state
        self._colls: dict[str, dict[str, Rec]] = {}
        self._last_seq = 0
        self._txn = 0
        self._doc_bytes = 0
        self._live_docs = 0
        self._feed_seq: list[int] = []
        self._feed_key: list[Key] = []
        self._feed_stale = 0
        self._audit_lines: list[str] = []
        self._audit_subject: dict[str, list[int]] = {}
        self._audit_head = ""
        # shards: key (depth, bits) -> member document keys; a doc belongs to the shard whose
        # ``bits`` equal the low ``depth`` bits of its hash (the keys form a prefix-free cover).
        self._members: dict[tuple[int, int], set[Key]] = {}
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
        self._lock_fd = acquire_lock(self.path)
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
            rec = self._colls.get(collection, EMPTY).get(doc_id)
        if rec is None or rec.deleted:
            return None
        return Document(collection, doc_id, rec.version, loads(rec.data), rec.seq)  # type: ignore[arg-type]

    def version_of(self, collection: str, doc_id: str) -> int | None:
        self._usable()
        with self._state_lock:
            rec = self._colls.get(collection, EMPTY).get(doc_id)
        return None if rec is None or rec.deleted else rec.version

    def scan(self, collection: str, where: Callable[[JSON], bool] | None = None) -> Iterator[Document]:
        self._usable()
        with self._state_lock:
            items = list(self._colls.get(collection, EMPTY).items())
        for did, rec in items:
            if rec.deleted:
                continue
            data = loads(rec.data)  # type: ignore[arg-type]
            if where is None or where(data):
                yield Document(collection, did, rec.version, data, rec.seq)

    def _feed_records(self, after_seq: int, limit: int) -> list[tuple[Key, Rec]]:
        """The next ``limit`` live feed entries after ``after_seq`` (records only: nothing parsed)."""
        out: list[tuple[Key, Rec]] = []
        if limit <= 0:
            return out
        with self._state_lock:
            seqs, keys, colls = self._feed_seq, self._feed_key, self._colls
            i = bisect.bisect_right(seqs, after_seq)
            n = len(seqs)
            while i < n and len(out) < limit:
                key = keys[i]
                rec = colls.get(key[0], EMPTY).get(key[1])
                if rec is not None and rec.seq == seqs[i]:
                    out.append((key, rec))
                i += 1
        return out

    @staticmethod
    def _document(key: Key, rec: Rec) -> Document:
        return Document(key[0], key[1], rec.version, {} if rec.deleted else loads(rec.data),  # type: ignore[arg-type]
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
